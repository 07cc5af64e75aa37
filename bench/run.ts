/**
 * The benchmark runner: `deno task bench [name ...] [--small] [--option=value]` (`deno run --allow-all
 * bench/run.ts`); options: `--baseline=<git ref>` (fairness: the build compared against); scale's
 * `--count=N`, `--inflight=N`, `--runs=N`, `--poll-ms=N`, `--quiet-load=X`, `--quiet-wait=S` (see
 * scale.ts). Without names it runs all of them in order except scale (only when named); shared
 * control planes and the 10,000-DataFlow cluster are created once per run and reused (see
 * lib/context.ts). `--small` shrinks every size
 * tenfold and writes to bench/results/tmp/ (git-ignored), for building and debugging.
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { repoRoot } from "../tests/e2e/manifests.ts";
import { configureLogging } from "../lib/observe/log.ts";
import { BenchContext, sizes } from "./lib/context.ts";
import { writeSummary } from "./lib/report.ts";
import { abuse } from "./abuse.ts";
import { binary } from "./binary.ts";
import { failover } from "./failover.ts";
import { fairness } from "./fairness.ts";
import { idle } from "./idle.ts";
import { memory } from "./memory.ts";
import { startup } from "./startup.ts";
import { throughput } from "./throughput.ts";
import { scale } from "./scale.ts";
import { queue } from "./queue.ts";

/** A benchmark: its name (for the command line) and how to run it. */
interface Benchmark {
  name: string;
  run: (ctx: BenchContext) => Promise<void>;
  /** Run only when named (too long for the run of all). */
  onlyByName?: boolean;
}

/** Figure 5, the event recorder engineer's storm benchmark: its own script and control plane. */
function storm(): Promise<void> {
  const r = spawnSync("deno", ["run", "-A", "bench/events/storm.ts"], { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`bench/events/storm.ts exited ${r.status}`);
  return Promise.resolve();
}

const BENCHMARKS: Benchmark[] = [
  { name: "throughput", run: (ctx) => throughput(ctx) },
  { name: "idle", run: (ctx) => idle(ctx) },
  { name: "memory", run: (ctx) => memory(ctx) },
  { name: "startup", run: (ctx) => startup(ctx) },
  { name: "storm", run: () => storm() },
  { name: "failover", run: (ctx) => failover(ctx) },
  { name: "binary", run: (ctx) => binary(ctx) },
  { name: "fairness", run: (ctx) => fairness(ctx, ctx.options.baseline) },
  { name: "abuse", run: (ctx) => abuse(ctx) },
  { name: "queue", run: (ctx) => queue(ctx) },
  // 100,000 DataFlows: 30-60 minutes on 2 shared cores (`--small`: 10,000; `--count=N`).
  { name: "scale", run: (ctx) => scale(ctx), onlyByName: true },
];

async function main(argv: string[]): Promise<number> {
  // The library's own log lines (informers, client retries) of the benchmark process: BENCH_LOG_LEVEL=debug.
  configureLogging({ level: process.env.BENCH_LOG_LEVEL ?? "warning", format: "text" });
  const small = argv.includes("--small");
  const wanted = argv.filter((a) => !a.startsWith("--"));
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
  if (unknown.length) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`,
    );
    return 2;
  }
  const command = ["deno task bench", ...argv].join(" ");
  const options = Object.fromEntries(
    argv.filter((a) => /^--[\w-]+=/.test(a)).map((
      a,
    ) => [a.slice(2, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]),
  );
  const ctx = new BenchContext(sizes(small), command, options);
  let failed = 0;
  try {
    for (const b of BENCHMARKS) {
      if (wanted.length ? !wanted.includes(b.name) : b.onlyByName) continue;
      console.log(`== ${b.name} (${new Date().toISOString()})`);
      try {
        await b.run(ctx);
      } catch (err) {
        failed++;
        console.error(`benchmark ${b.name} failed: ${(err as Error).stack ?? err}`);
      }
    }
  } finally {
    await ctx.close();
  }
  const storm =
    "| 5. Event storms (three shapes): API calls and final counts | see the file | as expected per shape | " +
    `see the file | [events/results.md](${small ? "../" : ""}../events/results.md) |`;
  const summary = writeSummary(BENCHMARKS.map((b) => b.name), small, [{ name: "storm", row: storm }]);
  console.log(`summary: ${summary}`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
