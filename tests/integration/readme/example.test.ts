/**
 * The README's toolkit example is real: it is extracted, type-checked by running it, pointed at
 * the test control plane, and must reconcile a ConfigMap (an Event appears) and exit 0 on SIGTERM.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { builtin } from "../../../lib/kube/resources.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const examplePath = join(root, "tests", "integration", "readme", `.example-${process.pid}.ts`);

/** The first TypeScript block under "## The toolkit", with its import pointed at the repository root. */
function readmeExample(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## The toolkit"));
  const m = section.match(/```ts\n([\s\S]*?)```/);
  if (!m) throw new Error("README.md has no ```ts block under ## The toolkit");
  return m[1].replace('from "./mod.ts"', `from ${JSON.stringify(join(root, "mod.ts"))}`);
}

after(() => rmSync(examplePath, { force: true }));

describe("README toolkit example", () => {
  it("runs, reconciles a labelled ConfigMap into an Event, and exits 0 on SIGTERM", async () => {
    const cp = await testControlPlane();
    const client = clientFor(cp);
    const ns = await freshNamespace(cp, "readme");
    writeFileSync(examplePath, readmeExample());
    const isDeno = Boolean((globalThis as { Deno?: unknown }).Deno);
    const args = isDeno ? ["run", "-A", examplePath] : [examplePath];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, KUBECONFIG: cp.info.admin.kubeconfigPath },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => output += d);
    child.stderr!.on("data", (d) => output += d);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await client.create(builtin.ConfigMap, {
        metadata: { name: "hello", namespace: ns, labels: { app: "demo" } },
        data: { a: "1", b: "2" },
      });
      const deadline = Date.now() + 60_000;
      let message = "";
      while (Date.now() < deadline && !message) {
        const events = await client.list<{ reason?: string; message?: string }>(builtin.Event, {
          namespace: ns,
        });
        message = events.items.find((e) => e.reason === "Seen")?.message ?? "";
        if (!message) await new Promise((r) => setTimeout(r, 300));
      }
      assert.equal(message, `ConfigMap ${ns}/hello has 2 keys`, `no Seen event; example output:\n${output}`);
    } finally {
      process.kill(child.pid!, "SIGTERM");
    }
    assert.equal(await exited, 0, `the example did not exit 0 on SIGTERM; output:\n${output}`);
  });
});
