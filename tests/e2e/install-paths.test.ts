/**
 * The README's install commands, run exactly as written on a fresh control plane each, as a
 * cluster admin would type them (kubectl, helm and dataflow-operator on PATH, the admin kubeconfig
 * in KUBECONFIG). After each, the operator runs as the kubelet would start the installed
 * Deployment: its ServiceAccount's token, its arguments and environment. It must reconcile a
 * DataFlow with nothing forbidden; in namespaced mode it must leave unlisted namespaces alone and
 * hold no permission there.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../controlplane/harness.ts";
import { forbidden, readAuditLog } from "./audit.ts";
import { dataflow, type DataFlowBody } from "./fixtures.ts";
import { OPERATOR_NAMESPACE, waitForCrdEstablished } from "./install.ts";
import { type Manifest, repoRoot, runCommand } from "./manifests.ts";

import { OperatorProcess } from "./operator-process.ts";
import { typeCommand, userPath } from "./user-shell.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };

/** The command lines of the README's "Deploying to a cluster" code blocks, in order. */
function readmeInstallCommands(): string[] {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("### Deploying to a cluster");
  assert.ok(start >= 0, "README.md has no '### Deploying to a cluster' section");
  // The install blocks end where the README says what the test does with them.
  const section = readme.slice(start, readme.indexOf("Each line works on its own", start));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.join("\n").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

/** Starts the operator as the kubelet would start the installed Deployment's manager container. */
async function startInstalledOperator(cp: ControlPlane, name: string): Promise<OperatorProcess> {
  const deps = JSON.parse(
    await cp.kubectlOk(["get", "deployments", "-n", OPERATOR_NAMESPACE, "-o", "json"]),
  ).items as Manifest[];
  assert.equal(deps.length, 1, "the install created one operator Deployment");
  const pod = deps[0].spec.template.spec;
  const c = pod.containers.find((x: Manifest) => x.name === "manager");
  assert.equal(c.args[0], "run");
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    env[e.name] = field === "metadata.name"
      ? name
      : field === "metadata.namespace"
      ? OPERATOR_NAMESPACE
      : e.value;
  }
  const identity = await cp.serviceAccountToken(OPERATOR_NAMESPACE, pod.serviceAccountName);
  return await OperatorProcess.start({
    name,
    kubeconfig: identity.kubeconfigPath,
    // The bind addresses move to free loopback ports (tests run side by side).
    args: c.args.slice(1).filter((a: string) => !/^--(metrics|health-probe)-bind-address=/.test(a)),
    env: { ...env, LOG_LEVEL: "debug" },
  });
}

/** Waits until the DataFlow has a status for its current generation and its two objects exist. */
async function reconciled(cp: ControlPlane, ns: string, name: string, op: OperatorProcess): Promise<void> {
  await waitFor(
    `DataFlow ${ns}/${name} reconciled`,
    async () => {
      const df = JSON.parse(
        await cp.kubectlOk(["get", "dataflow", name, "-n", ns, "-o", "json"]),
      ) as DataFlowBody;
      if (!df.status?.phase || df.status.observedGeneration !== df.metadata.generation) return undefined;
      await cp.kubectlOk(["get", `configmap/dataflow-${name}-spec`, `deployment/dataflow-${name}`, "-n", ns]);
      return true;
    },
    { timeoutMs: 90_000, describe: () => op.tail(30) },
  );
}

async function applyDataFlow(cp: ControlPlane, ns: string, body: DataFlowBody): Promise<void> {
  await cp.kubectlOk(["apply", "-n", ns, "-f", "-"], { input: JSON.stringify(body) });
}

/**
 * A DataFlow's life under the installed operator, touching every verb the install grants: create
 * (ConfigMap, Deployment, Events), two spec changes (their update; the second `ConfigMapUpdated`
 * repeats the first, so that Event's count is patched up, at the latest when the operator stops
 * and flushes; the second also makes the spec larger than the cache keeps, a 20 KB Avro schema,
 * so the reconcile reads the DataFlow whole) and a delete (cleanup through the finalizer). The
 * caller stops the operator.
 */
async function lifecycle(cp: ControlPlane, ns: string, op: OperatorProcess): Promise<void> {
  const orders = dataflow("orders", { connectionString: "postgres://db.example/flows" });
  await applyDataFlow(cp, ns, orders);
  await reconciled(cp, ns, "orders", op);
  for (const topic of ["orders-v2", "orders-v3"]) {
    orders.spec.source.kafka.topic = topic;
    if (topic === "orders-v3") {
      const doc = "d".repeat(20_000);
      Object.assign(orders.spec.source.kafka, {
        format: "avro",
        avroSchema: `{"type":"string","doc":"${doc}"}`,
      });
    }
    await applyDataFlow(cp, ns, orders);
    await waitFor(
      `the ConfigMap updated for topic ${topic}`,
      async () => {
        const cm = await cp.kubectlOk(["get", "configmap", "dataflow-orders-spec", "-n", ns, "-o", "json"]);
        return cm.includes(topic) ? true : undefined;
      },
      { timeoutMs: 60_000, describe: () => op.tail(20) },
    );
    // The first occurrence is on the server before the second happens: the second is a count update.
    await waitFor(
      "the ConfigMapUpdated Event",
      async () => await eventCount(cp, ns, "ConfigMapUpdated") || undefined,
    );
  }
  await cp.kubectlOk(["delete", "dataflow", "orders", "-n", ns, "--wait=true", "--timeout=60s"]);
  const left = await cp.kubectlOk(["get", "configmaps,deployments", "-n", ns, "-o", "name"]);
  assert.doesNotMatch(left, /dataflow-orders/, "cleanup deleted the ConfigMap and the Deployment");
}

/** The largest count among the namespace's Events with this reason (0: none). */
async function eventCount(cp: ControlPlane, ns: string, reason: string): Promise<number> {
  const events = JSON.parse(
    await cp.kubectlOk(["get", "events", "-n", ns, "--field-selector", `reason=${reason}`, "-o", "json"]),
  ).items as { count?: number }[];
  return Math.max(0, ...events.map((e) => e.count ?? 0));
}

describe("the README's install commands on a fresh cluster", T, () => {
  const commands = readmeInstallCommands();
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("are the five documented paths", () => {
    assert.equal(commands.length, 5, commands.join("\n"));
    assert.equal(commands.filter((c) => /--namespaces |watchNamespaces/.test(c)).length, 2);
  });

  for (const line of commands) {
    const namespaced = /--namespaces |watchNamespaces/.test(line);
    it(`\`${line}\` installs an operator that reconciles under its own ServiceAccount`, T, async () => {
      const cp = await ControlPlane.start();
      const home = mkdtempSync(join(tmpdir(), "install-"));
      dirs.push(home);
      const bin = join(home, "bin");
      await runCommand("mkdir", ["-p", bin]);
      let op: OperatorProcess | undefined;
      try {
        // Namespaced mode installs into namespaces that exist (the README says so).
        if (namespaced) {
          for (const ns of ["team-a", "team-b", "team-c"]) await cp.kubectlOk(["create", "namespace", ns]);
        }
        await typeCommand(cp, line, await userPath(cp, bin));
        await waitForCrdEstablished(cp);
        op = await startInstalledOperator(cp, "installed-0");
        await op.waitHealthy("/readyz", 120_000);

        const ns = namespaced ? "team-a" : "apps";
        if (!namespaced) await cp.kubectlOk(["create", "namespace", ns]);
        // Created first, so it has been seen (and left alone) by the time the lifecycle is done.
        if (namespaced) {
          await applyDataFlow(
            cp,
            "team-c",
            dataflow("unlisted", { connectionString: "postgres://db.example/x" }),
          );
        }
        await lifecycle(cp, ns, op);
        if (namespaced) {
          await applyDataFlow(
            cp,
            "team-b",
            dataflow("payments", { connectionString: "postgres://db.example/p" }),
          );
          await reconciled(cp, "team-b", "payments", op);
          // The positive signal came first (both listed namespaces reconciled, and the unlisted
          // DataFlow was created before them): the unlisted one has no finalizer, status or objects.
          const unlisted = JSON.parse(
            await cp.kubectlOk(["get", "dataflow", "unlisted", "-n", "team-c", "-o", "json"]),
          ) as DataFlowBody;
          assert.equal(unlisted.status, undefined);
          assert.equal(unlisted.metadata.finalizers, undefined);
          const objects = await cp.kubectlOk(["get", "configmaps,deployments", "-n", "team-c", "-o", "name"]);
          assert.doesNotMatch(objects, /dataflow-unlisted/);
          // And the ServiceAccount may do nothing there with Secrets, ConfigMaps or Deployments.
          const can = await cp.kubectlOk([
            "auth",
            "can-i",
            "--list",
            "-n",
            "team-c",
            `--as=system:serviceaccount:${OPERATOR_NAMESPACE}:dataflow-operator`,
          ]);
          assert.doesNotMatch(can, /^(secrets|configmaps|deployments\.apps)\s/m, can);
          const clusterRoles = await cp.kubectlOk(["get", "clusterroles", "-o", "name"]);
          assert.doesNotMatch(clusterRoles, /clusterrole\.rbac\.authorization\.k8s\.io\/dataflow-operator\b/);
        }
        assert.equal(await op.stop(), 0, op.tail(20));
        // The repeated event is one Event whose count went up (kubectl describe: "(x2 over ...)").
        assert.equal(
          await eventCount(cp, ns, "ConfigMapUpdated"),
          2,
          "the repeated event's count was patched up",
        );
        const denied = forbidden(
          readAuditLog(cp.info.auditLogPath).filter((r) => r.user.endsWith(":dataflow-operator")),
        );
        assert.deepEqual(denied.map((r) => `${r.verb} ${r.uri}`), [], "forbidden requests of the operator");
      } finally {
        await op?.stop();
        await cp.stop();
      }
    });
  }
});
