/**
 * The console as the Helm chart installs it. Rendered: its Deployment, Service, Ingress and
 * read-only RBAC pass a server-side dry run and PodSecurity "restricted". Installed: the README's
 * helm line, typed as written into a fresh control plane; then the console runs as the chart's
 * ServiceAccount (as its pod would) and every page reads without a refusal, the account itself
 * can write nothing, and in the browser a user who signs in with their own token can create a
 * DataFlow where their RBAC allows it and is refused, with the API server's message, elsewhere.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "puppeteer-core";
import type { KubeClient } from "../../lib/kube/client.ts";
import { DataFlowType } from "../../lib/dataflow/names.ts";
import { clientFor } from "../controlplane/env.ts";
import { ControlPlane, freePort } from "../controlplane/harness.ts";
import { dryRunServer, type Manifest, pick, renderChart, repoRoot } from "../e2e/manifests.ts";
import { typeCommand, userPath } from "../e2e/user-shell.ts";
import { launch, openTab, screenshot, screenshotDir } from "./browser.ts";
import { ConsoleProcess } from "./console-process.ts";
import { kafkaFlow } from "./fixtures.ts";

const T = { timeout: 600_000 };
const CONSOLE_SA = "system:serviceaccount:dataflow-system:dataflow-operator-console";
let cp: ControlPlane;
let admin: KubeClient;
let shell: string;
let browser: Browser;

/** The README's helm line that installs the console. */
function readmeHelmLine(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Console"));
  const line = section.split("\n").find((l) =>
    l.startsWith("helm install") && l.includes("console.enabled=true")
  );
  assert.ok(line, "README.md's Console section has no helm install line with console.enabled=true");
  return line;
}

describe("the console from the Helm chart", T, () => {
  before(async () => {
    cp = await ControlPlane.start({ keepAudit: false });
    admin = clientFor(cp);
    shell = mkdtempSync(join(tmpdir(), "dataflow-console-shell-"));
    browser = await launch();
  }, T);
  after(async () => {
    await browser?.close();
    await cp?.stop();
    if (shell) rmSync(shell, { recursive: true, force: true });
  }, T);

  it("renders a Deployment, Service, Ingress and read-only RBAC the API server accepts", T, async () => {
    await cp.kubectlOk(["create", "namespace", "console-render"]);
    const objects = await renderChart("df", "console-render", {
      "console.enabled": true,
      "console.enableWrites": true,
      "console.ingress.enabled": true,
      "console.ingress.host": "console.example.com",
      "crds.install": false,
    });
    const dep = pick(objects, "Deployment", "df-dataflow-operator-console");
    const c = dep.spec.template.spec.containers[0];
    assert.deepEqual(c.args, [
      "console",
      "--listen=:8080",
      "--operator-metrics-url=http://df-dataflow-operator-metrics.console-render.svc:9090/metrics",
      "--enable-writes",
      "--write-identity=token",
    ]);
    assert.equal(dep.spec.template.spec.serviceAccountName, "df-dataflow-operator-console");
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    const svc = pick(objects, "Service", "df-dataflow-operator-console");
    for (const [k, v] of Object.entries(svc.spec.selector)) {
      assert.equal(dep.spec.template.metadata.labels[k], v);
    }
    const ingress = pick(objects, "Ingress");
    assert.equal(ingress.spec.rules[0].host, "console.example.com");
    assert.equal(ingress.spec.rules[0].http.paths[0].backend.service.name, svc.metadata.name);
    const role = pick(objects, "ClusterRole", "df-dataflow-operator-console");
    const verbs = role.rules.flatMap((r: Manifest) => r.verbs as string[]);
    assert.deepEqual(
      [...new Set(verbs)].sort(),
      ["get", "list", "watch"],
      "the console's account only reads",
    );
    const r = await dryRunServer(cp, objects);
    assert.equal(r.code, 0, r.stderr);
    // The console pod passes PodSecurity "restricted" as the operator's does.
    await cp.kubectlOk(["create", "namespace", "console-psa"]);
    await cp.kubectlOk([
      "label",
      "namespace",
      "console-psa",
      "pod-security.kubernetes.io/enforce=restricted",
    ]);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "console-probe", namespace: "console-psa" },
      spec: dep.spec.template.spec,
    };
    const psa = await dryRunServer(cp, [pod]);
    assert.equal(psa.code, 0, psa.stderr);
  });

  it(
    "the README's helm line installs it; as its ServiceAccount every page reads, and it cannot write",
    T,
    async () => {
      const path = await userPath(cp, shell);
      await typeCommand(cp, readmeHelmLine(), path);
      const sa = await cp.serviceAccountToken("dataflow-system", "dataflow-operator-console");
      await cp.kubectlOk(["create", "namespace", "team-a"]);
      await cp.kubectlOk(["create", "namespace", "team-b"]);
      await admin.create(DataFlowType, kafkaFlow("orders", "team-a"));
      const can = await cp.kubectl([
        "auth",
        "can-i",
        "create",
        "dataflows.dataflow.dataflow.io",
        "-A",
        `--as=${CONSOLE_SA}`,
      ]);
      assert.equal(can.stdout.trim(), "no", "the console's ServiceAccount can create DataFlows");

      // A user whose RBAC allows DataFlows in team-a only.
      await cp.kubectlOk([
        "-n",
        "team-a",
        "create",
        "role",
        "dataflow-editor",
        "--verb=get,list,watch,create,update,delete",
        "--resource=dataflows.dataflow.dataflow.io",
      ]);
      await cp.kubectlOk([
        "-n",
        "team-a",
        "create",
        "rolebinding",
        "alice",
        "--role=dataflow-editor",
        "--serviceaccount=team-a:alice",
      ]);
      const alice = await cp.serviceAccountToken("team-a", "alice");

      const port = await freePort();
      const proc = await ConsoleProcess.start([
        `--listen=127.0.0.1:${port}`,
        `--kubeconfig=${sa.kubeconfigPath}`,
        "--enable-writes",
        "--write-identity=token",
        "--operator-metrics-url=0",
        "--leader-election-namespace=dataflow-system",
      ]);
      const shots = screenshotDir();
      try {
        const tab = await openTab(browser);
        await tab.page.goto(`${proc.url}/dataflows/team-a/orders`, { waitUntil: "load" });
        const main = await tab.page.$eval("main", (m) => m.textContent ?? "");
        assert.doesNotMatch(
          main,
          /Cannot read|forbidden/i,
          "a read was refused to the console's ServiceAccount",
        );
        await tab.page.goto(`${proc.url}/operator`, { waitUntil: "load" });
        assert.doesNotMatch(
          await tab.page.$eval("main", (m) => m.textContent ?? ""),
          /Cannot read|forbidden/i,
        );

        // Writes need a sign-in; then they are alice's, with alice's RBAC.
        await tab.page.goto(`${proc.url}/new?namespace=team-a`, { waitUntil: "load" });
        assert.equal(new URL(tab.page.url()).pathname, "/login");
        await tab.page.type("#token", alice.token!);
        await Promise.all([tab.page.waitForNavigation(), tab.page.click("button.primary")]);
        assert.match(
          await tab.page.$eval("header", (h) => h.textContent ?? ""),
          /signed in as system:serviceaccount:team-a:alice/,
        );
        assert.equal(new URL(tab.page.url()).pathname, "/new");
        await Promise.all([tab.page.waitForNavigation(), tab.page.click("button[type=submit].primary")]);
        assert.equal(new URL(tab.page.url()).pathname, "/dataflows/team-a/my-dataflow");
        const created = await admin.get<{ metadata: { managedFields?: { manager?: string }[] } }>(
          DataFlowType,
          "my-dataflow",
          { namespace: "team-a" },
        );
        assert.ok(created.metadata.managedFields?.some((f) => f.manager === "dataflow-console"));

        await tab.page.goto(`${proc.url}/new?namespace=team-b`, { waitUntil: "load" });
        await Promise.all([tab.page.waitForNavigation(), tab.page.click("button[type=submit].primary")]);
        const refusal = await tab.page.$eval("#errors", (e) => e.textContent ?? "");
        assert.match(
          refusal,
          /Forbidden by the API server: .*"system:serviceaccount:team-a:alice" cannot create resource "dataflows"/,
        );
        await screenshot(tab.page, shots, "09-token-forbidden");
        await assert.rejects(admin.get(DataFlowType, "my-dataflow", { namespace: "team-b" }), /not found/i);
        assert.doesNotMatch(proc.output, new RegExp(alice.token!.slice(-24)), "the token was logged");
        await tab.page.close();
      } finally {
        assert.equal(await proc.stop(), 0, proc.output);
      }
    },
  );
});
