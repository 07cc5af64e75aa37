/**
 * Starting the operator for a benchmark: on Deno (`deno run -A mod.ts`) or as the Bun-compiled
 * binary (dist/dataflow-operator-bun), through the packaging engineer's OperatorProcess (guarded,
 * output kept), plus the operator's pid and the few of its own metrics the benchmarks read (to
 * know when it is idle; request counts come from the API server, see apiserver.ts).
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { OperatorProcess } from "../../tests/e2e/operator-process.ts";
import { repoRoot } from "../../tests/e2e/manifests.ts";
import { waitForPid } from "./proc.ts";
import { sleep } from "./stats.ts";

/** The runtimes the operator is measured on. */
export type Runtime = "deno" | "bun";

/** The compiled Bun executable (dist/ is git-ignored). */
export const BUN_BINARY = join(repoRoot, "dist", "dataflow-operator-bun");

/** Bun, pinned as the tests pin it, from the npm registry: only Node.js with npm needs to be installed. */
export const BUN = ["npx", "-y", "bun@1.4.5"];

/**
 * How the operator's executable is compiled (as the Dockerfile and the test run compile it):
 * bytecode compiled ahead of time (no parsing at start: the module graph loads in about 8 ms
 * instead of 30), lazily imported modules in their own chunks (loaded only when asked for), and
 * JavaScriptCore's tier-up thresholds scaled up until there is work (lib/runtime/jit.ts).
 * bench/results/startup.md measures each.
 */
export const BUN_BUILD_FLAGS = [
  "build",
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--compile-jit-policy=100",
];

/** The exact build command of {@link BUN_BINARY}. */
export const BUN_BUILD = [...BUN, ...BUN_BUILD_FLAGS, "--outfile", "dist/dataflow-operator-bun", "mod.ts"];

let built: Promise<{ seconds: number; bytes: number }> | undefined;

/** Builds the Bun binary from the current sources, once per benchmark process. */
export function ensureBunBinary(): Promise<{ seconds: number; bytes: number }> {
  built ??= (async () => {
    const t0 = performance.now();
    await promisify(execFile)(BUN_BUILD[0], BUN_BUILD.slice(1), { cwd: repoRoot });
    const seconds = (performance.now() - t0) / 1000;
    if (!existsSync(BUN_BINARY)) throw new Error(`${BUN_BUILD.join(" ")} produced no ${BUN_BINARY}`);
    return { seconds, bytes: statSync(BUN_BINARY).size };
  })();
  return built;
}

/** The short commit hash of a git ref. */
export function commitOf(ref: string): string {
  return execFileSync("git", ["rev-parse", "--short", ref], { cwd: repoRoot, encoding: "utf8" }).trim();
}

/**
 * The Bun binary of git commit `ref` (a worktree under dist/, built once and kept by commit): for
 * comparisons with an earlier operator in the same run, or to measure a committed state while the
 * working tree changes.
 */
export function binaryAt(ref: string): string {
  const commit = execFileSync("git", ["rev-parse", "--short", ref], { cwd: repoRoot, encoding: "utf8" })
    .trim();
  const dir = join(repoRoot, "dist", `at-${commit}`);
  const bin = join(dir, "dist", "dataflow-operator-bun");
  if (existsSync(bin)) return bin;
  mkdirSync(join(repoRoot, "dist"), { recursive: true });
  if (!existsSync(dir)) {
    execFileSync("git", ["worktree", "add", "--detach", dir, commit], { cwd: repoRoot, stdio: "inherit" });
  }
  const [bun, ...pre] = BUN;
  execFileSync(bun, [...pre, "install", "--frozen-lockfile"], { cwd: dir, stdio: "inherit" });
  execFileSync(bun, [...pre, ...BUN_BUILD_FLAGS, "--outfile", bin, "mod.ts"], {
    cwd: dir,
    stdio: "inherit",
  });
  return bin;
}

/** The operator command line per runtime, as the results files state it. */
export function commandOf(runtime: Runtime): string {
  return runtime === "deno" ? "deno run -A mod.ts" : "dist/dataflow-operator-bun";
}

/** Options of {@link startOperator}. */
export interface BenchOperatorOptions {
  runtime: Runtime;
  /** Another Bun-compiled operator than {@link BUN_BINARY} (e.g. one built from an older commit). */
  binary?: string;
  kubeconfig: string;
  /** Extra `run` flags (leader election is off unless `leaderElect`). */
  args?: string[];
  leaderElect?: boolean;
  env?: Record<string, string>;
  name?: string;
  /** Also append every output line to this file (bench/results/tmp/ is git-ignored). */
  logFile?: string;
}

/** A running operator and its own process id. */
export interface BenchOperator {
  op: OperatorProcess;
  pid: number;
  /** Date.now() just before the process was spawned (OperatorProcess's: its ports already chosen). */
  spawnedAt: number;
}

/** Starts the operator (the Bun binary is built first when needed); resolves once its pid is known. */
export async function startOperator(options: BenchOperatorOptions): Promise<BenchOperator> {
  if (options.runtime === "bun" && !options.binary) await ensureBunBinary();
  // OperatorProcess reads the command from the environment at start.
  process.env.DATAFLOW_OPERATOR_CMD = options.runtime === "bun"
    ? options.binary ?? BUN_BINARY
    : "deno run -A mod.ts";
  const args = [`--leader-elect=${options.leaderElect ? "true" : "false"}`, ...(options.args ?? [])];
  const op = await OperatorProcess.start({
    kubeconfig: options.kubeconfig,
    args,
    env: { LOG_LEVEL: "info", ...options.env },
    name: options.name ?? `operator-${options.runtime}`,
    logFile: options.logFile,
  });
  const needle = `--metrics-bind-address=${new URL(op.metricsUrl).host}`;
  const pid = await waitForPid(needle).catch(async (err) => {
    await op.stop("SIGKILL", 1000);
    throw new Error(`${err.message}\n${op.tail()}`);
  });
  return { op, pid, spawnedAt: op.spawnedAt };
}

/** Sums a metric of Prometheus text over the series whose labels contain every `labels` pair. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

/**
 * Waits until the operator has run at least `reconciles` reconciles (all results) and its work
 * queue is empty; returns its metrics text at that moment.
 */
export async function waitForReconciles(
  op: OperatorProcess,
  reconciles: number,
  timeoutMs = 600_000,
  pollMs = 250,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!op.running) throw new Error(`${op.name} exited:\n${op.tail()}`);
    last = await op.metrics().catch(() => "");
    const done = metricSum(last, "controller_runtime_reconcile_total", { controller: "dataflow" });
    const depth = metricSum(last, "workqueue_depth", { name: "dataflow" });
    const active = metricSum(last, "controller_runtime_active_workers", { controller: "dataflow" });
    if (done >= reconciles && depth === 0 && active === 0) return last;
    await sleep(pollMs);
  }
  throw new Error(`${op.name}: fewer than ${reconciles} reconciles within ${timeoutMs} ms:\n${op.tail()}`);
}
