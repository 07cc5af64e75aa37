/**
 * `deno task demo` as a user runs it: `--once` shows the samples reaching their phases with
 * their Events and exits 0; without it the demo keeps running until SIGINT (Ctrl-C), which stops
 * the operator and the control plane and removes every temporary directory. A Ctrl-C at any
 * earlier point (while the control plane starts, during the install step) removes them too: the
 * demo runs with a TMPDIR of its own, which must be empty once it has exited.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { repoRoot } from "./manifests.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };

/** The demo under the runtime running this test (deno run -A, or bun). */
function demoCommand(args: string[]): string[] {
  const self = process.execPath;
  return process.versions.bun
    ? [self, "tests/demo.ts", ...args]
    : [self, "run", "-A", "tests/demo.ts", ...args];
}

interface Demo {
  output: () => string;
  exited: Promise<number>;
  signal: (s: NodeJS.Signals) => void;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<void>;
}

// The demo runs under a shell that prints its exit status: Deno's node:child_process reports a
// child that handled the signal it was sent as killed by it, hiding the real exit code. Signals go
// to the demo's own pid (it prints it), not to the shell.
const EXIT_MARK = "[demo-exit]";

function startDemo(args: string[], env: Record<string, string> = {}): Demo {
  const child = spawn("bash", ["-c", `"$@"; echo "${EXIT_MARK} $?"`, "demo", ...demoCommand(args)], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  child.stdout!.on("data", (d) => out += d);
  child.stderr!.on("data", (d) => out += d);
  // "close": every byte of output has been read by then.
  const exited = new Promise<number>((resolve) =>
    child.on("close", () => {
      const line = out.split("\n").findLast((l) => l.startsWith(EXIT_MARK));
      resolve(line ? Number(line.slice(EXIT_MARK.length)) : -1);
    })
  );
  return {
    output: () => out,
    exited,
    signal: (s) => {
      const pid = /demo pid (\d+)/.exec(out);
      assert.ok(pid, "the demo did not print its pid");
      process.kill(Number(pid[1]), s);
    },
    waitFor: async (pattern, timeoutMs) => {
      await waitFor(`the demo to print ${pattern}`, () => pattern.test(out), {
        timeoutMs,
        intervalMs: 250,
        describe: () => out,
        abortIf: () => child.exitCode !== null && !pattern.test(out) ? "the demo exited" : undefined,
      });
    },
  };
}

/** The temporary directories, control plane URL and operator health URL the demo printed. */
function printed(out: string): { dirs: string[]; server: string; health: string } {
  const dirs = /temporary directories: (\S+) (\S+)/.exec(out);
  const server = /control plane up at (https:\/\/\S+)/.exec(out);
  const health = /operator ready \(health (http:\/\/\S+\/readyz)/.exec(out);
  assert.ok(dirs && server && health, `the demo did not print its directories and endpoints:\n${out}`);
  return { dirs: [dirs[1], dirs[2]], server: server[1], health: health[1] };
}

/** The console URL the demo printed (`console: http://127.0.0.1:8080/`). */
function consoleUrl(out: string): string {
  const m = /^console: (http:\/\/\S+)$/m.exec(out);
  assert.ok(m, `the demo did not print its console URL:\n${out}`);
  return m[1];
}

/** True when nothing listens at the URL any more (a connection error, not an HTTP or TLS answer). */

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
    return false;
  } catch (err) {
    return /ECONNREFUSED|Connection refused|connect|ConnectionRefused/i.test(
      String((err as Error).cause ?? err),
    );
  }
}

/**
 * Starts the demo with a TMPDIR of its own, interrupts it (SIGINT) as soon as it prints `at`, and
 * asserts that it exits 0 and leaves that TMPDIR empty.
 */
async function interruptAt(at: RegExp): Promise<string> {
  const tmp = mkdtempSync(join(tmpdir(), "dataflow-demo-tmp-"));
  try {
    const demo = startDemo([], { TMPDIR: tmp });
    await demo.waitFor(at, 240_000);
    demo.signal("SIGINT");
    const code = await demo.exited;
    const out = demo.output();
    assert.equal(code, 0, out);
    assert.match(out, /SIGINT: cleaning up/);
    assert.doesNotMatch(out, /demo failed/);
    assert.deepEqual(readdirSync(tmp), [], `the demo left these in its TMPDIR:\n${out}`);
    const server = /control plane up at (https:\/\/\S+)/.exec(out);
    if (server) assert.ok(await refused(server[1]), "the control plane still listens after Ctrl-C");
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("deno task demo", T, () => {
  it(
    "--once shows the samples in their phases with their Events, then cleans up and exits 0",
    T,
    async () => {
      const demo = startDemo(["--once"]);
      const code = await demo.exited;
      const out = demo.output();
      assert.equal(code, 0, out);
      assert.match(out, /\$ kubectl get df -n dataflow-demo\nNAME\s+PHASE\s+SOURCE\s+SINK\s+AGE\n/);
      assert.match(out, /audit-log-archive\s+Error\s+kafka\s+postgresql/);
      assert.match(out, /clickstream-cleanup\s+Running\s+kafka\s+kafka/);
      assert.match(out, /orders-to-postgresql\s+Running\s+kafka\s+postgresql/);
      assert.match(
        out,
        /Normal\s+ConfigMapCreated\s+\S+\s+dataflow-controller\s+Created ConfigMap dataflow-orders-to-postgresql-spec/,
      );
      assert.match(
        out,
        /Normal\s+DeploymentCreated\s+\S+\s+dataflow-controller\s+Created Deployment dataflow-clickstream-cleanup/,
      );
      assert.match(
        out,
        /Warning\s+SecretResolutionFailed\s+\S+\s+dataflow-controller\s+Failed to resolve secrets: .*audit-kafka-credentials/,
      );
      assert.match(out, /operator exited with 0/);
      assert.match(out, /stopping the console/);
      const { dirs, server, health } = printed(out);
      assert.ok(await refused(consoleUrl(out)), "the console still listens after the demo exited");
      for (const d of dirs) assert.equal(existsSync(d), false, `${d} was left behind`);
      assert.ok(await refused(health), "the operator still listens after the demo exited");
      assert.ok(await refused(server), "the control plane still listens after the demo exited");
    },
  );

  it(
    "keeps running until Ctrl-C (SIGINT), which stops the operator and the control plane and removes everything",
    T,
    async () => {
      const demo = startDemo([]);
      await demo.waitFor(/Press Ctrl-C/, 240_000);
      const { dirs, server, health } = printed(demo.output());
      for (const d of dirs) assert.ok(existsSync(d), `${d} should exist while the demo runs`);
      assert.equal(await refused(health), false, "the operator is not serving while the demo runs");
      // The console it prints serves the samples, live, with writes.
      const web = consoleUrl(demo.output());
      const list = await (await fetch(`${web}?namespace=dataflow-demo`)).text();
      assert.match(list, /orders-to-postgresql/);
      assert.match(list, /href="\/new"/);
      demo.signal("SIGINT");
      const code = await demo.exited;
      const out = demo.output();
      assert.equal(code, 0, out);
      assert.match(out, /SIGINT: cleaning up/);
      assert.match(out, /operator exited with 0/);
      for (const d of dirs) assert.equal(existsSync(d), false, `${d} was left behind`);
      assert.ok(await refused(health), "the operator still listens after Ctrl-C");
      assert.ok(await refused(web), "the console still listens after Ctrl-C");
      assert.ok(await refused(server), "the control plane still listens after Ctrl-C");
    },
  );

  it(
    "Ctrl-C during the install step stops the control plane and removes every temporary directory",
    T,
    async () => {
      const out = await interruptAt(/==> installing the DataFlow CRD/);
      assert.match(out, /stopping the control plane and removing its data/);
    },
  );

  it("Ctrl-C while the control plane starts waits for it, stops it and removes everything", T, async () => {
    await interruptAt(/demo pid \d+; temporary directory/);
  });
});
