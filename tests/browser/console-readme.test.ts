/**
 * The README's local console commands, typed exactly as written (from the README's "Console"
 * section, so the two cannot drift): each serves the list at http://127.0.0.1:8080/ from the
 * kubeconfig's cluster, read-only or with writes, and stops with exit code 0 on Ctrl-C.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { KubeClient } from "../../lib/kube/client.ts";
import { DataFlowType } from "../../lib/dataflow/names.ts";
import { clientFor, freshNamespace, testControlPlane } from "../controlplane/env.ts";
import type { ControlPlane } from "../controlplane/harness.ts";
import { installCrd } from "../e2e/install.ts";
import { repoRoot } from "../e2e/manifests.ts";
import { launch, openTab, screenshot, screenshotDir } from "./browser.ts";
import { ConsoleProcess } from "./console-process.ts";
import { kafkaFlow } from "./fixtures.ts";

const T = { timeout: 300_000 };
const URL_PRINTED = "http://127.0.0.1:8080";
let cp: ControlPlane;
let admin: KubeClient;
let ns: string;

/** The `npx -y deno@2.9.6 task console ...` lines of the README's "## Console" section. */
function readmeConsoleLines(): string[] {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("\n## Console");
  assert.ok(start >= 0, "README.md has no ## Console section");
  const section = readme.slice(start + 1, readme.indexOf("\n## ", start + 1));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((b) => b.split("\n")).filter((l) => l.startsWith("npx -y deno@2.9.6 task console"));
}

/** Whether something already listens on 127.0.0.1:8080 (the README's port). */
function portTaken(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(8080, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

describe("the README's console commands, as typed", T, () => {
  before(async () => {
    cp = await testControlPlane();
    await installCrd(cp);
    admin = clientFor(cp);
    ns = await freshNamespace(cp, "readme");
    await admin.create(DataFlowType, kafkaFlow("orders-to-postgresql", ns));
  }, T);
  after(() => cp?.stop(), T);

  it("the README shows the read-only command and the one with writes", () => {
    assert.deepEqual(readmeConsoleLines(), [
      "npx -y deno@2.9.6 task console",
      "npx -y deno@2.9.6 task console --enable-writes",
    ]);
  });

  for (const [i, writes] of [[0, false], [1, true]] as const) {
    it(
      `${writes ? "with --enable-writes" : "read-only"}: serves the list at ${URL_PRINTED}, stops on Ctrl-C`,
      T,
      async () => {
        const line = readmeConsoleLines()[i];
        assert.equal(
          await portTaken(),
          false,
          `something already listens on 127.0.0.1:8080; \`${line}\` needs it`,
        );
        const proc = await ConsoleProcess.typed(line, { KUBECONFIG: cp.info.admin.kubeconfigPath });
        try {
          assert.equal(proc.url, URL_PRINTED, proc.output);
          const page = await (await fetch(`${proc.url}/?namespace=${ns}`)).text();
          assert.match(page, /orders-to-postgresql/);
          assert.equal(page.includes('href="/new"'), writes, "the New DataFlow link");
          const create = await fetch(`${proc.url}/new`);
          await create.body?.cancel();
          assert.equal(create.status, writes ? 200 : 404);
          if (writes) assert.match(page, /writes as <strong>admin<\/strong>/);
          else assert.match(page, /read-only/);
          if (!writes) {
            const browser = await launch();
            try {
              const tab = await openTab(browser);
              await tab.page.goto(`${proc.url}/`, { waitUntil: "load" });
              await tab.page.waitForFunction(`document.getElementById("live").dataset.state === "live"`);
              await screenshot(tab.page, screenshotDir(), "00-readme-command");
            } finally {
              await browser.close();
            }
          }
        } finally {
          // Ctrl-C reaches npx, deno task and the console alike; deno task ends its command and
          // reports the interrupt as a shell does, 130. (The console's own clean stop on SIGINT, exit 0,
          // is console.test.ts's.)
          const code = await proc.stop("SIGINT");
          assert.ok(code === 0 || code === 130, `\`${line}\` exited ${code} on Ctrl-C:\n${proc.output}`);
          assert.equal(await portTaken(), false, "the console still listens after Ctrl-C");
        }
      },
    );
  }
});
