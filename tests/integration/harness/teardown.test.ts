/**
 * The control-plane harness leaves nothing behind: a normal stop, and a test process killed with
 * SIGKILL (no chance to clean up), both end every server and remove the temporary directory.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ControlPlane } from "../../controlplane/harness.ts";
import { waitFor } from "../../tools/wait.ts";

const here = dirname(fileURLToPath(import.meta.url));

/** Pids of processes whose command line mentions `needle`. */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes(needle) && !cmd.includes("teardown.test")) out.push(Number(entry));
    } catch { /* the process ended meanwhile */ }
  }
  return out;
}

describe("control-plane teardown", () => {
  it("stop() ends etcd and kube-apiserver and removes the directory", async () => {
    const cp = await ControlPlane.start();
    const dir = cp.info.dir;
    assert.ok(processesWith(dir).length >= 2, "servers are running");
    await cp.stop();
    assert.deepEqual(processesWith(dir), []);
    assert.equal(existsSync(dir), false);
  });

  it("a SIGKILLed test process leaves no server and no temp dir behind", async () => {
    const runtime = process.execPath;
    const args = (globalThis as { Deno?: unknown }).Deno
      ? ["run", "-A", join(here, "start-and-wait.ts")]
      : [join(here, "start-and-wait.ts")];
    const child = spawn(runtime, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => out += d);
    await waitFor("the child reports its control plane", () => out.includes("READY "), {
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    const dir = out.split("READY ")[1].trim().split("\n")[0];
    assert.ok(processesWith(dir).length >= 2);
    child.kill("SIGKILL");
    await waitFor("no server of the killed run remains", () => processesWith(dir).length === 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await waitFor("its temp dir is removed", () => !existsSync(dir), { timeoutMs: 15_000, intervalMs: 250 });
  });
});
