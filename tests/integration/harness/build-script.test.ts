/**
 * tests/controlplane/build.sh, the first thing a new user's `deno task demo` runs: its cached path
 * never fails at random, its last step cannot die of SIGPIPE, and a run waiting for another run's
 * lock says how long it has waited.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runCommand } from "../../e2e/manifests.ts";
import { waitFor } from "../../tools/wait.ts";

const script = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "controlplane", "build.sh");
const KEY = "k8s-v1.36.3-etcd-v3.6.16";

/** A cache directory whose "binaries" are scripts: build.sh's finishing step runs without a build. */
function fakeCache(): { cache: string; bin: string; out: string } {
  const cache = mkdtempSync(join(tmpdir(), "build-sh-"));
  const out = join(cache, "controlplane", KEY);
  const bin = join(out, "bin");
  mkdirSync(bin, { recursive: true });
  // etcd --version writes far more than a pipe buffer: with `etcd --version | head -1` under
  // pipefail, head exits after one line and etcd dies of SIGPIPE (exit 141) every time.
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool("etcd", 'echo "etcd Version: 3.6.16"; for i in $(seq 1 20000); do echo "detail line $i"; done');
  tool("kube-apiserver", 'echo "Kubernetes v1.36.3"');
  tool("kubectl", 'echo "kubectl"');
  return { cache, bin, out };
}

describe("tests/controlplane/build.sh", { timeout: 300_000 }, () => {
  it("the cached path succeeds 30 times in a row and prints the bin directory", async () => {
    // The suite's control plane is already built (the run started one), so this is the cached path.
    let first = "";
    for (let i = 0; i < 30; i++) {
      const r = await runCommand("bash", [script]);
      assert.equal(r.code, 0, `run ${i + 1} exited ${r.code}: ${r.stderr}`);
      const last = r.stdout.trim().split("\n").pop()!;
      first ||= last;
      assert.equal(last, first, `run ${i + 1} printed another directory`);
    }
    assert.match(first, /\/bin$/);
  });

  it("the finishing step survives a version command with long output (no SIGPIPE)", async () => {
    const { cache, bin, out } = fakeCache();
    try {
      const r = await runCommand("bash", [script], { env: { DATAFLOW_CACHE: cache } });
      assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr.slice(-2000)}`);
      assert.equal(r.stdout.trim().split("\n").pop(), bin);
      assert.match(r.stderr, /etcd Version: 3\.6\.16/);
      assert.doesNotMatch(r.stderr, /detail line 2\b/, "only the version line is logged");
      // Marked complete: the next run takes the cached path.
      const again = await runCommand("bash", [script], { env: { DATAFLOW_CACHE: cache } });
      assert.equal(again.code, 0);
      assert.equal(again.stderr, "");
      assert.ok(out.startsWith(cache));
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("a run waiting for another run's lock reports the elapsed time, then reuses its result", async () => {
    const { cache, bin, out } = fakeCache();
    // The "other build": holds the lock until told to finish, then marks the result complete.
    const holder = spawn("flock", [join(out, ".lock"), "bash", "-c", `read _; touch ${out}/.complete`], {
      stdio: ["pipe", "ignore", "inherit"],
    });
    try {
      // flock prints nothing once it holds the lock: wait until a non-blocking attempt fails.
      await waitFor(
        "the other build to hold the lock",
        async () => (await runCommand("flock", ["-n", join(out, ".lock"), "true"])).code !== 0,
        { timeoutMs: 10_000, intervalMs: 25 },
      );
      let stderr = "";
      const waiter = spawn("bash", [script], {
        env: { ...process.env, DATAFLOW_CACHE: cache, BUILD_LOCK_REPORT_SECONDS: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      waiter.stdout!.on("data", (d) => stdout += d);
      waiter.stderr!.on("data", (d) => stderr += d);
      const exited = new Promise<number>((r) => waiter.on("close", (c) => r(c ?? -1)));
      // Wait for two progress lines, then let the other build finish.
      await waitFor("two progress lines", () => /\(2 s\)/.test(stderr), {
        timeoutMs: 60_000,
        intervalMs: 50,
        describe: () => stderr,
      });
      assert.match(stderr, /another build of .* is running; waiting for its lock/);
      assert.match(stderr, /still waiting for the other build of .* \(1 s\)/);
      assert.match(stderr, /still waiting for the other build of .* \(2 s\)/);
      holder.stdin!.end("done\n");
      assert.equal(await exited, 0, stderr);
      assert.equal(stdout.trim(), bin);
    } finally {
      holder.kill();
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
