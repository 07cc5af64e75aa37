/**
 * The operator as a separate OS process, as users run it: the command comes from
 * DATAFLOW_OPERATOR_CMD (default `deno run -A mod.ts`; CI also sets it to the Bun-compiled
 * binary). The process runs under a guard shell that kills it when this process dies, so a
 * crashed test run leaves no operator behind. Every output line is kept for assertions (for
 * example that no secret value was ever logged).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import process from "node:process";
import { freePort } from "../controlplane/harness.ts";
import { repoRoot } from "./manifests.ts";
import { waitFor } from "../tools/wait.ts";

/** The operator command line (argv prefix) under test. */
export function operatorCommand(): string[] {
  const cmd = process.env.DATAFLOW_OPERATOR_CMD?.trim();
  if (cmd) return cmd.split(/\s+/);
  // Under Deno, the very deno running us (it may not be on PATH, e.g. under npx); else deno from PATH.
  const deno = process.env.DENO_BIN ?? (/deno[^/]*$/.test(process.execPath) ? process.execPath : "deno");
  return [deno, "run", "-A", "mod.ts"];
}

/** Options of {@link OperatorProcess.start}. */
export interface OperatorOptions {
  /** The kubeconfig the operator authenticates with (never admin in the e2e suite). */
  kubeconfig: string;
  /** Extra CLI arguments after `run` (the bind addresses are added unless given). */
  args?: string[];
  /** Extra environment (LOG_LEVEL, PROCESSOR_IMAGE, OPERATOR_NAMESPACE, ...). */
  env?: Record<string, string>;
  /** Also append every output line to this file. */
  logFile?: string;
  /** A label for error messages (e.g. "replica-a"). */
  name?: string;
}

// The guard prints the operator's exit status on this marker line: Deno's node:child_process
// reports a child that handled the signal it was sent as killed by it (exit code null), so the
// child's own "exit" event cannot be trusted for the code.
const EXIT_MARK = "[operator-guard] exit status";

// The guard: run the operator in the background, forward TERM/INT to it, and kill it when the
// parent (this test process) disappears. Background jobs of a non-interactive shell start with
// SIGINT ignored, which is why INT is forwarded as an explicit signal too.
const GUARD = guardShell(EXIT_MARK);

/**
 * The guard shell (run as `bash -c <script> <name> <command...>` with PARENT_PID set): it runs the
 * command, forwards TERM and INT, stops it when the test process is gone, and prints `<exitMark>
 * <status>` last, so the exit status survives the guard.
 */
export function guardShell(exitMark: string): string {
  return `"$@" & child=$!
# exitMark is interpolated by JavaScript; everything else is shell.
finish() { wait $child; code=$?; echo "${exitMark} $code" >&2; exit $code; }
trap 'kill -TERM $child 2>/dev/null; finish' TERM
trap 'kill -INT $child 2>/dev/null; finish' INT
while kill -0 $child 2>/dev/null; do
  if ! kill -0 $PARENT_PID 2>/dev/null; then kill -TERM $child; sleep 5; kill -KILL $child 2>/dev/null; break; fi
  sleep 0.3
done
finish`;
}

/**
 * The operator's environment: ours without KUBECONFIG, so the only cluster it can reach is the one
 * of `--kubeconfig` (the demo and the tests must never touch a user's cluster), plus `extra`.
 */
function operatorEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "KUBECONFIG") env[k] = v;
  return { ...env, ...extra, PARENT_PID: String(process.pid), EXIT_MARK };
}

/** A running operator process. */
export class OperatorProcess {
  /** Every line the process wrote to stdout or stderr, in order. */
  readonly lines: string[] = [];
  /** The metrics endpoint, e.g. http://127.0.0.1:40123/metrics. */
  readonly metricsUrl: string;
  /** The health endpoint base, e.g. http://127.0.0.1:40124. */
  readonly healthUrl: string;
  readonly name: string;
  /** The extra environment it was started with. */
  readonly env: Record<string, string>;
  /** Date.now() just before the guard shell was spawned (after its ports were chosen). */
  readonly spawnedAt: number;
  #child: ChildProcess;
  #exit: Promise<number>;
  #log?: WriteStream;
  /** Set once the process has exited and its output was read to the end: no more lines can come. */
  #closed = false;

  private constructor(
    name: string,
    env: Record<string, string>,
    child: ChildProcess,
    metricsPort: number,
    healthPort: number,
    spawnedAt: number,
    logFile?: string,
  ) {
    this.name = name;
    this.env = env;
    this.spawnedAt = spawnedAt;
    this.#child = child;
    this.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    this.healthUrl = `http://127.0.0.1:${healthPort}`;
    if (logFile) this.#log = createWriteStream(logFile, { flags: "a" });
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = "";
      stream.on("data", (chunk) => {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        for (const line of parts) this.#line(line);
      });
      stream.on("end", () => partial && this.#line(partial));
    }
    this.#exit = new Promise((resolve) => {
      // "close" (not "exit"): the marker line on stderr has been read by then.
      child.on("close", (code, signal) => {
        this.#closed = true;
        const marked = this.lines.findLast((l) => l.startsWith(EXIT_MARK));
        resolve(marked ? Number(marked.slice(EXIT_MARK.length)) : code ?? (signal ? 128 : -1));
      });
      child.on("error", (err) => {
        this.#line(`[spawn error] ${err.message}`);
        resolve(-1);
      });
    });
  }

  #line(line: string): void {
    this.lines.push(line);
    this.#log?.write(line + "\n");
  }

  /** Starts `<operator command> run --kubeconfig ... <args>` from the repository root. */
  static async start(options: OperatorOptions): Promise<OperatorProcess> {
    const args = options.args ?? [];
    const metricsPort = await freePort();
    const healthPort = await freePort();
    const argv = [...operatorCommand(), "run", `--kubeconfig=${options.kubeconfig}`];
    if (!args.some((a) => a.startsWith("--metrics-bind-address"))) {
      argv.push(`--metrics-bind-address=127.0.0.1:${metricsPort}`);
    }
    if (!args.some((a) => a.startsWith("--health-probe-bind-address"))) {
      argv.push(`--health-probe-bind-address=127.0.0.1:${healthPort}`);
    }
    argv.push(...args);
    const spawnedAt = Date.now();
    const child = spawn("bash", ["-c", GUARD, "operator-guard", ...argv], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: a terminal's Ctrl-C reaches only us (we stop the operator in order),
      // and the SIGKILL fallback can take the guard and the operator down together.
      detached: true,
      env: operatorEnv(options.env),
    });
    return new OperatorProcess(
      options.name ?? "operator",
      options.env ?? {},
      child,
      metricsPort,
      healthPort,
      spawnedAt,
      options.logFile,
    );
  }

  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number> {
    return this.#exit;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last n output lines, for failure messages. */
  tail(n = 40): string {
    return this.lines.slice(-n).join("\n");
  }

  /** Waits for an output line matching `pattern`; throws with the output tail on timeout or exit. */
  waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const find = () => this.lines.find((l) => pattern.test(l));
    return waitFor(`${this.name} to log ${pattern}`, find, {
      timeoutMs,
      intervalMs: 50,
      describe: () => this.tail(),
      abortIf: () => this.#closed && !find() ? `${this.name} exited before logging it` : undefined,
    });
  }

  /** Polls GET <health>/<path> until it answers 200; throws with the output tail on timeout. */
  async waitHealthy(path = "/readyz", timeoutMs = 60_000): Promise<void> {
    await waitFor(`${this.name} ${path} to answer 200`, async () => {
      const r = await fetch(this.healthUrl + path);
      await r.body?.cancel();
      return r.ok;
    }, {
      timeoutMs,
      intervalMs: 250,
      describe: () => this.tail(),
      abortIf: () => this.running ? undefined : `${this.name} exited`,
    });
  }

  /** The operator's Prometheus text. */
  async metrics(): Promise<string> {
    const r = await fetch(this.metricsUrl);
    if (!r.ok) throw new Error(`GET ${this.metricsUrl}: ${r.status}`);
    return await r.text();
  }

  #killGroup(): void {
    try {
      process.kill(-this.#child.pid!, "SIGKILL");
    } catch (err) {
      // ESRCH: the group is already gone, nothing left to kill. Anything else is a real problem.
      if ((err as { code?: string }).code !== "ESRCH") throw err;
    }
  }

  /** Sends `signal` and waits up to `timeoutMs` for the exit (then SIGKILL); returns the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000): Promise<number> {
    if (this.running) {
      this.#child.kill(signal);
      const timer = setTimeout(() => this.#killGroup(), timeoutMs);
      await this.#exit;
      clearTimeout(timer);
    }
    const code = await this.#exit;
    await new Promise<void>((r) => this.#log ? this.#log.end(r) : r());
    return code;
  }
}
