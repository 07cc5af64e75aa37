/**
 * Fairness between namespaces (issue 11): tenant-a creates 2,000 DataFlows, then tenant-c creates
 * one. Measured: tenant-c's DataFlow's first status (ConfigMap, Deployment and observedGeneration,
 * seen through watches) and its two creation Events on the server, counted from tenant-c's create;
 * tenant-a's total time (its first create to its last DataFlow converged). Targets: tenant-c status
 * within 2 s, events within 5 s, tenant-a's total within 10 % of the operator before namespaces took
 * turns, which the benchmark builds from git (`--baseline=<ref>`, default {@link DEFAULT_BASELINE})
 * and runs in the same process, interleaved with the current binary, each on a control plane of its own.
 */
import type { KubeClient, KubeObject } from "../lib/kube/client.ts";
import { builtin } from "../lib/kube/resources.ts";
import { DataFlowType } from "../lib/dataflow/names.ts";
import { Registry } from "../lib/observe/metrics.ts";
import { Informer } from "../lib/runtime/mod.ts";
import { freshNamespace } from "../tests/controlplane/env.ts";
import type { BenchContext } from "./lib/context.ts";
import { ConvergenceWatch } from "./lib/converge.ts";
import { machineInfo } from "./lib/machine.ts";
import { binaryAt, BUN_BINARY, ensureBunBinary, startOperator } from "./lib/operator.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median } from "./lib/stats.ts";
import { benchDataFlow, createDataFlows, names } from "./lib/writer.ts";

/** The last commit whose work queue and event writer were plain FIFOs (the figures of the issue). */
export const DEFAULT_BASELINE = "81d00d8";
/** DataFlows tenant-a creates (full run; a tenth with --small). */
const FLOOD = 2000;
/** Creates in flight, as in the other benchmarks. */
const CONCURRENCY = 16;
/** The Events the operator writes for a new DataFlow. */
const CREATION_EVENTS = ["ConfigMapCreated", "DeploymentCreated"];

interface Sample {
  binary: "current" | "baseline";
  /** tenant-a: first create to last DataFlow converged (s). */
  floodSeconds: number;
  /** tenant-a: time its 2,000 creates took (s). */
  createSeconds: number;
  /** tenant-c: its create to its status (s). */
  statusSeconds: number;
  /** tenant-c: its create to the last of its creation Events on the server (s). */
  eventsSeconds: number;
}

/** Resolves with performance.now() once every creation Event of `name` is on the server. */
async function eventsWritten(admin: KubeClient, namespace: string, name: string, signal: AbortSignal) {
  const events = new Informer<KubeObject>(admin, builtin.Event, {
    namespace,
    name: "bench-events",
    registry: new Registry(),
  });
  let resolve!: (at: number) => void;
  const done = new Promise<number>((r) => resolve = r);
  const check = () => {
    const reasons = new Set(
      events.list().filter((e) => (e.involvedObject as { name?: string })?.name === name).map((e) =>
        e.reason
      ),
    );
    if (CREATION_EVENTS.every((r) => reasons.has(r))) resolve(performance.now());
  };
  events.on({ add: check, update: check });
  void events.start(signal).catch(() => {});
  await events.waitForSync();
  return { done, stop: () => events.stop() };
}

async function runOnce(
  ctx: BenchContext,
  binary: Sample["binary"],
  path: string,
  flood: number,
): Promise<Sample> {
  const { cp, admin, identity } = await ctx.cluster(`fairness-${binary}`);
  const [a, c] = [await freshNamespace(cp, "tenant-a"), await freshNamespace(cp, "tenant-c")];
  const stop = new AbortController();
  const floodWatch = new ConvergenceWatch(admin, a);
  const lateWatch = new ConvergenceWatch(admin, c);
  await Promise.all([floodWatch.start(), lateWatch.start()]);
  const events = await eventsWritten(admin, c, "late", stop.signal);
  const { op } = await startOperator({
    runtime: "bun",
    binary: path,
    kubeconfig: identity.kubeconfigPath,
    args: [`--namespace=${a},${c}`],
    name: `operator-${binary}`,
  });
  try {
    await op.waitHealthy("/readyz");
    const floodNames = names("df", flood);
    const t0 = performance.now();
    await createDataFlows(admin, a, floodNames, CONCURRENCY);
    const created = performance.now();
    await admin.create(DataFlowType, benchDataFlow("late", c), { namespace: c });
    const lateAt = performance.now();
    const statusAt = await lateWatch.waitAll(["late"], 600_000);
    const eventsAt = await Promise.race([
      events.done,
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error("no events within 10 min")), 600_000)
      ),
    ]);
    const floodDone = await floodWatch.waitAll(floodNames, 1_200_000);
    return {
      binary,
      floodSeconds: (floodDone - t0) / 1000,
      createSeconds: (created - t0) / 1000,
      statusSeconds: (statusAt - lateAt) / 1000,
      eventsSeconds: (eventsAt - lateAt) / 1000,
    };
  } finally {
    stop.abort();
    events.stop();
    floodWatch.stop();
    lateWatch.stop();
    if (op.running) await op.stop("SIGTERM");
  }
}

/** Benchmark `fairness`. */
export async function fairness(ctx: BenchContext, baselineRef = DEFAULT_BASELINE): Promise<void> {
  const flood = ctx.sizes.small ? FLOOD / 10 : FLOOD;
  await ensureBunBinary();
  const baseline = binaryAt(baselineRef);
  const machine = await machineInfo((await ctx.cluster("fairness-current")).admin);
  const samples: Sample[] = [];
  // Interleaved, each on its own control plane (fresh namespaces per run).
  for (let run = 0; run < ctx.sizes.runs; run++) {
    for (const [binary, path] of [["baseline", baseline], ["current", BUN_BINARY]] as const) {
      const s = await runOnce(ctx, binary, path, flood);
      console.log(
        `  ${binary}: tenant-c status ${fmt(s.statusSeconds, 2)} s, events ${fmt(s.eventsSeconds, 2)} s; ` +
          `tenant-a ${flood} converged in ${fmt(s.floodSeconds)} s (creates took ${fmt(s.createSeconds)} s)`,
      );
      samples.push(s);
    }
  }
  const of = (b: Sample["binary"], f: (s: Sample) => number) =>
    median(samples.filter((s) => s.binary === b).map(f));
  const cur = (f: (s: Sample) => number) => of("current", f);
  const base = (f: (s: Sample) => number) => of("baseline", f);
  const ratio = cur((s) => s.floodSeconds) / base((s) => s.floodSeconds);
  const row = (label: string, f: (s: Sample) => number, digits = 2) =>
    `| ${label} | ${fmt(base(f), digits)} | ${fmt(cur(f), digits)} |`;
  writeResults({
    name: "fairness",
    title: `Fairness: tenant-c's one DataFlow while tenant-a creates ${flood}`,
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body: [
      `Bun binary, \`--namespace=<tenant-a>,<tenant-c>\`, leader election off; tenant-a's ${flood} DataFlows are`,
      `created ${CONCURRENCY} at a time, tenant-c's one right after the last of them. "Baseline" is the binary built`,
      `from ${baselineRef} (work queue and event writer FIFO across namespaces); both run in this process, interleaved,`,
      `${ctx.sizes.runs} runs each; each binary has a control plane of its own, each run fresh namespaces; medians.`,
      "",
      "| figure | baseline (FIFO) | current (namespaces take turns) |",
      "|---|---|---|",
      row("tenant-c: create → status (s)", (s) => s.statusSeconds),
      row("tenant-c: create → both creation Events on the server (s)", (s) => s.eventsSeconds),
      row(`tenant-a: first create → ${flood} converged (s)`, (s) => s.floodSeconds, 1),
      row(`tenant-a: its ${flood} creates (s)`, (s) => s.createSeconds, 1),
      "",
      `tenant-a's total, current / baseline: ${fmt(ratio, 3)}.`,
      "",
      "Every run:",
      "",
      ...samples.map((s) =>
        `- ${s.binary}: status ${fmt(s.statusSeconds, 2)} s, events ${fmt(s.eventsSeconds, 2)} s, tenant-a ${
          fmt(s.floodSeconds)
        } s (creates ${fmt(s.createSeconds)} s)`
      ),
    ],
    data: { flood, baselineRef, samples },
    summary: [
      {
        figure: "11. Fairness: tenant-c's status while tenant-a floods",
        target: "≤ 2 s",
        value: `${fmt(cur((s) => s.statusSeconds), 2)} s (FIFO: ${fmt(base((s) => s.statusSeconds), 2)} s)`,
        met: cur((s) => s.statusSeconds) <= 2,
      },
      {
        figure: "11. Fairness: tenant-c's events while tenant-a floods",
        target: "≤ 5 s",
        value: `${fmt(cur((s) => s.eventsSeconds), 2)} s (FIFO: ${fmt(base((s) => s.eventsSeconds), 2)} s)`,
        met: cur((s) => s.eventsSeconds) <= 5,
      },
      {
        figure: "11. Fairness: tenant-a's total time, current / FIFO",
        target: "≤ 1.10",
        value: fmt(ratio, 3),
        met: ratio <= 1.1,
      },
    ],
  });
}
