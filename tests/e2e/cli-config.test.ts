/**
 * Misconfiguration fails loudly, and a Go-era Deployment's flags work: the operator as a process
 * (DATAFLOW_OPERATOR_CMD: `deno run -A mod.ts`, bun, or the Bun-compiled binary), each case
 * asserting the exit code, a bound on the time to exit and the exact error line.
 *
 * - a bad command line or value exits 2 with one line, before anything connects or listens;
 * - the Go operator's zap flags are mapped (and the meaningless ones ignored with one warning);
 * - outside a cluster the endpoints listen on 127.0.0.1 by default;
 * - with its output piped into a reader that has gone away (`... | head -1`), SIGINT still drains,
 *   releases the Lease and exits 0;
 * - every `deno task` needs only Node.js and npm (no deno or bun on PATH).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ControlPlane, freePort, type Identity } from "../controlplane/harness.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE } from "./install.ts";
import { repoRoot, runCommand } from "./manifests.ts";
import { operatorCommand } from "./operator-process.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };
/** How long a graceful stop may take after the signal before the process is killed (and the test fails). */
const STOP_MS = 20_000;
const LEASE_NAME = "dataflow-operator.dataflow.io";

/** An environment in which no cluster can be found: the refusals must not depend on one. */
const NO_CLUSTER = {
  KUBECONFIG: undefined,
  KUBERNETES_SERVICE_HOST: undefined,
  KUBERNETES_SERVICE_PORT: undefined,
  LOG_LEVEL: undefined,
  LOG_FORMAT: undefined,
};

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const [cmd, ...pre] = operatorCommand();
  return await runCommand(cmd, [...pre, ...args], { env: { ...NO_CLUSTER, ...env }, cwd: repoRoot });
}

/** The refusals: argv, extra environment, the one line on stderr. */
const REFUSALS: Array<{ what: string; args: string[]; env?: Record<string, string>; line: string }> = [
  { what: "an unknown flag", args: ["run", "--foo"], line: "error: unknown flag --foo; see --help" },
  {
    what: "an unknown flag with a value, one dash",
    args: ["-foo=1"],
    line: "error: unknown flag -foo; see --help",
  },
  {
    what: "a flag without its value",
    args: ["run", "--kubeconfig"],
    line: "error: flag --kubeconfig needs a value; see --help",
  },
  { what: "an unknown command", args: ["bogus"], line: 'error: unknown command "bogus"; see --help' },
  {
    what: "a bad metrics bind address (the health port free, never bound)",
    args: ["run", "--metrics-bind-address=bogus", "--health-probe-bind-address=127.0.0.1:0"],
    line: "error: --metrics-bind-address=bogus: expected [host]:port or 0",
  },
  {
    what: "a bad health bind address",
    args: ["run", "--health-probe-bind-address=:99999"],
    line: "error: --health-probe-bind-address=:99999: expected [host]:port or 0",
  },
  {
    what: "LOG_FORMAT=xml",
    args: ["run"],
    env: { LOG_FORMAT: "xml" },
    line: "error: LOG_FORMAT=xml: expected json or text",
  },
  {
    what: "a bad --zap-log-level",
    args: ["--zap-log-level=verbose"],
    line:
      "error: --zap-log-level=verbose: expected debug, info, warn, error, panic or a whole number above 0",
  },
  {
    what: "a bad --zap-encoder",
    args: ["--zap-encoder", "xml"],
    line: "error: --zap-encoder=xml: expected json or console",
  },
  {
    what: "a bad --zap-time-encoding (validated although ignored)",
    args: ["--zap-time-encoding=hourly"],
    line: "error: --zap-time-encoding=hourly: expected epoch, millis, nano, iso8601, rfc3339, rfc3339nano",
  },
  {
    what: "a bad --leader-elect",
    args: ["--leader-elect=maybe"],
    line: "error: --leader-elect=maybe: expected true or false",
  },
];

/** A process of the operator, its output read (or piped into `head -n 1`), its pid and exit status. */
interface Proc {
  pid: number;
  lines: string[];
  /** The exit status, as its shell saw it (128+n when killed by signal n). */
  exited: Promise<number>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
  running(): boolean;
}

// The operator in the background of a shell that writes its pid and, once it has exited, its exit
// status into files (Deno's node:child_process reports a child that handled the signal it was sent
// as killed by it, which hides the real exit code), and kills it when the test process is gone.
// With HEAD_ONLY set its output goes to `head -n 1`, which exits after the first line.
const SHELL = `if [ -n "$HEAD_ONLY" ]; then "$@" > >(head -n 1 > "$STATE/first-line") 2>&1 & else "$@" & fi
c=$!
echo $c > "$STATE/pid"
while kill -0 $c 2>/dev/null; do
  if ! kill -0 $PARENT_PID 2>/dev/null; then kill -KILL $c; break; fi
  sleep 0.2
done
wait $c
echo $? > "$STATE/status"`;

async function startOperator(
  args: string[],
  env: Record<string, string | undefined>,
  options: { headOnly?: boolean } = {},
): Promise<Proc & { state: string }> {
  const state = await mkdtemp(join(tmpdir(), "dataflow-cli-proc-"));
  const full: Record<string, string> = {};
  const merged = {
    ...process.env,
    KUBECONFIG: undefined,
    LOG_LEVEL: undefined,
    LOG_FORMAT: undefined,
    KUBERNETES_SERVICE_HOST: undefined,
    KUBERNETES_SERVICE_PORT: undefined,
    ...env,
    STATE: state,
    PARENT_PID: String(process.pid),
    HEAD_ONLY: options.headOnly ? "1" : "",
  };
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) full[k] = v;
  const child = spawn("bash", ["-c", SHELL, "operator-shell", ...operatorCommand(), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: full,
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = "";
    stream.on("data", (chunk) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
    });
  }
  const read = (name: string) => existsSync(join(state, name)) ? readFileSync(join(state, name), "utf8") : "";
  const exited = new Promise<number>((resolve) => {
    const poll = setInterval(() => {
      const status = read("status").trim();
      if (status) {
        clearInterval(poll);
        resolve(Number(status));
      }
    }, 100);
  });
  const pid = Number(
    await waitFor("the operator's shell to start it", () => read("pid").trim() || undefined, {
      timeoutMs: 30_000,
      intervalMs: 50,
    }),
  );
  let done = false;
  exited.then(() => done = true);
  return {
    pid,
    lines,
    exited,
    state,
    kill: (signal) => process.kill(pid, signal),
    running: () => !done,
    waitFor(pattern, timeoutMs = 60_000) {
      const find = () => lines.find((l) => pattern.test(l));
      return waitFor(`the operator to print ${pattern}`, find, {
        timeoutMs,
        describe: () => lines.join("\n"),
        abortIf: () => done && !find() ? "the operator exited" : undefined,
      });
    },
  };
}

/**
 * Sends `signal` and asserts the exit status. A process still running STOP_MS later is killed, so a
 * stop that hangs fails on its status instead of holding the test until its timeout.
 */
async function stopExpecting(p: Proc, signal: NodeJS.Signals, expected: number): Promise<void> {
  try {
    p.kill(signal);
  } catch {
    // Already gone: its exit status says how.
  }
  const timer = setTimeout(() => {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch { /* gone */ }
  }, STOP_MS);
  const code = await p.exited;
  clearTimeout(timer);
  assert.equal(code, expected, `exit status after ${signal}:\n${p.lines.join("\n")}`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

describe("the operator's command line: refusals (exit 2, one line, nothing started)", T, () => {
  for (const c of REFUSALS) {
    it(c.what, T, async () => {
      const r = await cli(c.args, c.env);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stderr, c.line + "\n");
      assert.equal(r.stdout, "");
    });
  }
});

/** The deno binary (this very one under Deno; DENO_BIN or the one on PATH under Bun), as an absolute path. */
async function denoBinary(): Promise<string> {
  if (process.env.DENO_BIN) return process.env.DENO_BIN;
  if (/deno[^/]*$/.test(process.execPath)) return process.execPath;
  const r = await runCommand("bash", ["-c", "command -v deno"]);
  assert.equal(r.code, 0, "no deno to run the tasks with (set DENO_BIN)");
  return r.stdout.trim();
}

describe("deno tasks need only Node.js and npm", T, () => {
  it("every task runs deno (deno task resolves it to itself), npx or bash: never a bare bun", () => {
    const tasks: Record<string, string> = JSON.parse(readFileSync(join(repoRoot, "deno.json"), "utf8")).tasks;
    for (const [name, command] of Object.entries(tasks)) {
      assert.match(command, /^(deno |npx -y (deno|bun)@\d+\.\d+\.\d+ |bash )/, `task ${name}: ${command}`);
    }
  });

  it("deno task start runs with neither deno nor bun on PATH", T, async () => {
    const r = await runCommand(await denoBinary(), ["task", "start", "--help"], {
      cwd: repoRoot,
      env: { PATH: "/usr/bin:/bin" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: dataflow-operator \[command\] \[flags\]$/m);
    const bad = await runCommand(await denoBinary(), ["task", "start", "--bogus"], {
      cwd: repoRoot,
      env: { PATH: "/usr/bin:/bin" },
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: unknown flag --bogus; see --help$/m);
  });
});

describe("the operator's command line against a cluster", T, () => {
  let cp: ControlPlane;
  let identity: Identity;
  before(async () => {
    cp = await ControlPlane.start();
    identity = await installOperatorIdentity(cp);
  }, T);
  after(async () => {
    await cp?.stop();
  }, T);

  it(
    "a Go-era Deployment's arguments (no `run`, zap flags) start it: text, debug, one warning for the ignored flags",
    T,
    async () => {
      const [m, h] = [await freePort(), await freePort()];
      const p = await startOperator([
        `--metrics-bind-address=127.0.0.1:${m}`,
        `--health-probe-bind-address=127.0.0.1:${h}`,
        `--kubeconfig=${identity.kubeconfigPath}`,
        "--leader-elect=false",
        "--zap-devel",
        "--zap-log-level=debug",
        "--zap-encoder=console",
        "--zap-stacktrace-level=panic",
        "--zap-time-encoding=iso8601",
      ], {});
      try {
        await p.waitFor(new RegExp(`serving .*/readyz.* on 127\\.0\\.0\\.1:${h}`));
        const warnings = p.lines.filter((l) => /ignoring flags of the Go operator/.test(l));
        assert.equal(warnings.length, 1, p.lines.join("\n"));
        assert.match(
          warnings[0],
          / \[WRN\] dataflow\.operator\.cli: ignoring flags of the Go operator that have no effect here: --zap-stacktrace-level=panic --zap-time-encoding=iso8601$/,
        );
        assert.ok(p.lines.some((l) => / \[DBG\] /.test(l)), `no debug line:\n${p.lines.join("\n")}`);
        assert.ok(!p.lines.some((l) => l.startsWith("{")), "a JSON line despite --zap-encoder=console");
      } finally {
        await stopExpecting(p, "SIGTERM", 0);
        await rm(p.state, { recursive: true, force: true });
      }
    },
  );

  it("LOG_FORMAT wins over --zap-devel's text; --zap-devel still gives debug", T, async () => {
    const [m, h] = [await freePort(), await freePort()];
    const p = await startOperator([
      "run",
      `--metrics-bind-address=127.0.0.1:${m}`,
      `--health-probe-bind-address=127.0.0.1:${h}`,
      `--kubeconfig=${identity.kubeconfigPath}`,
      "--leader-elect=false",
      "-zap-devel",
    ], { LOG_FORMAT: "json" });
    try {
      await p.waitFor(/serving .*\/readyz/);
      const parsed = p.lines.filter(Boolean).map((l) => JSON.parse(l));
      assert.ok(parsed.some((r) => r.level === "DEBUG"), `no DEBUG record:\n${p.lines.join("\n")}`);
      assert.ok(!p.lines.some((l) => /ignoring flags/.test(l)), "nothing was ignored");
    } finally {
      await stopExpecting(p, "SIGTERM", 0);
      await rm(p.state, { recursive: true, force: true });
    }
  });

  it("outside a cluster, metrics and probes listen on 127.0.0.1:9090 and :9091 by default", T, async () => {
    const free = await portFree(9090) && await portFree(9091);
    const p = await startOperator([`--kubeconfig=${identity.kubeconfigPath}`, "--leader-elect=false"], {
      LOG_FORMAT: "text",
    });
    try {
      if (!free) {
        // Another process holds a default port on this machine: the refusal still names loopback.
        const line = await p.waitFor(/127\.0\.0\.1:909[01]/);
        assert.doesNotMatch(line, /0\.0\.0\.0|::/);
        return;
      }
      await p.waitFor(/serving \/healthz \/readyz on 127\.0\.0\.1:9091$/);
      await p.waitFor(/serving \/metrics on 127\.0\.0\.1:9090$/);
      const r = await fetch("http://127.0.0.1:9091/healthz");
      assert.equal(r.status, 200);
      await r.body?.cancel();
      // Not on any other interface.
      const other = Object.values(networkInterfaces()).flat().find((i) =>
        i && i.family === "IPv4" && !i.internal
      );
      if (other) {
        const reached = await fetch(`http://${other.address}:9091/healthz`, {
          signal: AbortSignal.timeout(3000),
        })
          .then(async (res) => (await res.body?.cancel(), true), () => false);
        assert.equal(reached, false, `/healthz answered on ${other.address}`);
      }
    } finally {
      if (free) await stopExpecting(p, "SIGTERM", 0);
      else {
        try {
          p.kill("SIGKILL");
        } catch { /* it exited on the busy port */ }
        await p.exited;
      }
      await rm(p.state, { recursive: true, force: true });
    }
  });

  it(
    "output piped into a reader that has exited (`| head -n 1`): SIGINT still drains, releases the Lease and exits 0",
    T,
    async () => {
      const POD = `epipe-${process.pid}`;
      const lease = async () => {
        const r = await cp.kubectl(["-n", OPERATOR_NAMESPACE, "get", "lease", LEASE_NAME, "-o", "json"]);
        return r.code === 0 ? (JSON.parse(r.stdout).spec?.holderIdentity ?? "") : undefined;
      };
      const [m, h] = [await freePort(), await freePort()];
      const p = await startOperator(
        [
          "run",
          `--metrics-bind-address=127.0.0.1:${m}`,
          `--health-probe-bind-address=127.0.0.1:${h}`,
          `--kubeconfig=${identity.kubeconfigPath}`,
          "--leader-elect=true",
        ],
        { POD_NAME: POD, OPERATOR_NAMESPACE, LOG_LEVEL: "debug" },
        { headOnly: true },
      );
      try {
        await waitFor(`${POD} to hold the Lease`, async () => (await lease()) === POD, {
          timeoutMs: 60_000,
          intervalMs: 250,
          describe: async () => `holder ${await lease()}`,
          abortIf: () => p.running() ? undefined : "the operator exited once its reader had gone",
        });
        // head has read its line and gone: every write from here on meets a closed pipe.
        assert.notEqual(readFileSync(join(p.state, "first-line"), "utf8"), "");
        // More debug output meets the closed pipe before the signal: pacing the scenario, not a
        // synchronisation (what follows waits for the exit status).
        await new Promise((r) => setTimeout(r, 500));
        await stopExpecting(p, "SIGINT", 0);
        assert.equal(await lease(), "", "the Lease was not released");
      } finally {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch { /* exited */ }
        await rm(p.state, { recursive: true, force: true });
      }
    },
  );
});
