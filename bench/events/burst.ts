/**
 * Events of a burst of new DataFlows (issue 12, goal 1): the operator (Bun binary, default 4
 * workers, `--namespace` scoped, the ServiceAccount of deploy/rbac.yaml) reconciles N new DataFlows
 * created 16 at a time; each emits ConfigMapCreated and DeploymentCreated. Measured per Event: the
 * moment a watch first saw it on the API server minus its `eventTime` (the moment the reconcile
 * emitted it; bench/events/latency.ts), so p50/p99/max of "emitting reconcile -> on the server";
 * the convergence time (bench/lib/converge.ts); and, from the operator's /metrics, occurrences
 * emitted, event writes, occurrences dropped or folded into overflow Events, and the write window.
 * The operator is stopped only after every emitted occurrence was seen (at most 10 minutes), so
 * nothing goes out in its shutdown flush. One control plane per size.
 *
 * With `--baseline-binary=<path> [--pairs=K]` it first compares convergence with another build
 * (the operator before a change): K pairs of bursts on the same control plane, in ABBA order so
 * that a drift of the machine or of etcd's size cancels out, without any Event watch (a watch
 * costs the API server work only where events are written during the burst, which would bias
 * the comparison). Event latency in these pairs comes from the operator's own
 * `events_delivery_lag_seconds` histogram (emission -> the API server's answer to the write).
 *
 * Run: deno run -A bench/events/burst.ts [--baseline-binary=<path>] [--pairs=K] [N ...]
 *      (default: 1000 10000; results in bench/events/burst.md)
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { freshNamespace } from "../../tests/controlplane/env.ts";
import { BenchContext, sizes } from "../lib/context.ts";
import { ConvergenceWatch } from "../lib/converge.ts";
import { loadAverage, machineInfo } from "../lib/machine.ts";
import { metricSum, startOperator } from "../lib/operator.ts";
import { fmt, median } from "../lib/stats.ts";
import { createDataFlows, names } from "../lib/writer.ts";
import { EventLatencyWatch, percentile } from "./latency.ts";

interface BurstResult {
  n: number;
  convergence: number;
  emitted: number;
  events: number;
  occurrences: number;
  complete: boolean;
  p50: number;
  p99: number;
  max: number;
  over10: number;
  over60: number;
  writes: number;
  dropped: number;
  overflow: number;
  backoffs: Record<string, number>;
  pausedSeconds: number;
  maxQueue: number;
  drainAfterConvergence: number;
  load: string;
}

async function burst(ctx: BenchContext, n: number): Promise<BurstResult> {
  const { cp, admin, identity } = await ctx.cluster(`burst-${n}`);
  const ns = await freshNamespace(cp, "burst");
  const dfNames = names("df", n);
  const { op } = await startOperator({
    runtime: "bun",
    kubeconfig: identity.kubeconfigPath,
    args: [`--namespace=${ns}`],
  });
  const watch = new ConvergenceWatch(admin, ns);
  const events = new EventLatencyWatch(admin, ns);
  try {
    await op.waitHealthy("/readyz");
    await Promise.all([watch.start(), events.start()]);
    const before = await op.metrics();
    let maxQueue = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await op.metrics().catch(() => "");
        maxQueue = Math.max(maxQueue, metricSum(m, "events_queue_depth"));
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const t0 = performance.now();
    const [, tEnd] = await Promise.all([
      createDataFlows(admin, ns, dfNames, 16),
      watch.waitAll(dfNames, 60 * 60_000),
    ]);
    const convergence = (tEnd - t0) / 1000;
    const atConvergence = await op.metrics();
    const emitted = metricSum(atConvergence, "events_emitted_total") -
      metricSum(before, "events_emitted_total");
    const t1 = performance.now();
    const complete = await events.waitFor(emitted, 10 * 60_000);
    const drainAfterConvergence = (performance.now() - t1) / 1000;
    sampling = false;
    await sampler;
    const after = await op.metrics();
    const d = (name: string, labels: Record<string, string> = {}) =>
      metricSum(after, name, labels) - metricSum(before, name, labels);
    const lat = [...events.latencyMs.values()];
    const backoffs: Record<string, number> = {};
    for (const cause of ["throttled", "server_error", "latency"]) {
      backoffs[cause] = d("events_write_backoffs_total", { cause });
    }
    return {
      n,
      convergence,
      emitted,
      events: lat.length,
      occurrences: events.occurrences,
      complete,
      p50: percentile(lat, 50) / 1000,
      p99: percentile(lat, 99) / 1000,
      max: Math.max(...lat) / 1000,
      over10: lat.filter((l) => l > 10_000).length,
      over60: lat.filter((l) => l > 60_000).length,
      writes: d("events_written_total"),
      dropped: d("events_dropped_total"),
      overflow: d("events_overflow_coalesced_total"),
      backoffs,
      pausedSeconds: d("events_write_paused_seconds_total"),
      maxQueue,
      drainAfterConvergence,
      load: loadAverage().join(" / "),
    };
  } finally {
    watch.stop();
    events.stop();
    await op.stop("SIGTERM");
  }
}

/** One burst timed for the A/B comparison: convergence, and the recorder's own delivery lag. */
interface Timed {
  build: "new" | "baseline";
  seconds: number;
  /** Event writes answered before convergence. */
  eventsInWindow: number;
  /** Share of event writes whose oldest occurrence was emitted at most 10 s before the answer (new build). */
  within10s?: number;
  /** The smallest histogram bucket bound holding 99 % of the writes (s). */
  p99Bound?: number;
}

async function timed(ctx: BenchContext, n: number, binary?: string, watchEvents = false): Promise<Timed> {
  const { cp, admin, identity } = await ctx.cluster(`burst-${n}`);
  const ns = await freshNamespace(cp, "ab");
  const dfNames = names("df", n);
  const { op } = await startOperator({
    runtime: "bun",
    binary,
    kubeconfig: identity.kubeconfigPath,
    args: [`--namespace=${ns}`],
  });
  const watch = new ConvergenceWatch(admin, ns);
  // `--watch-events`: also watch the namespace's Events from this process, as bench/throughput.ts does.
  const events = watchEvents ? new EventLatencyWatch(admin, ns) : undefined;
  try {
    await op.waitHealthy("/readyz");
    await watch.start();
    await events?.start();
    const before = await op.metrics();
    const t0 = performance.now();
    const [, tEnd] = await Promise.all([
      createDataFlows(admin, ns, dfNames, 16),
      watch.waitAll(dfNames, 60 * 60_000),
    ]);
    const seconds = (tEnd - t0) / 1000;
    const atConvergence = await op.metrics();
    const d = (text: string, name: string, labels: Record<string, string> = {}) =>
      metricSum(text, name, labels) - metricSum(before, name, labels);
    const result: Timed = {
      build: binary ? "baseline" : "new",
      seconds,
      eventsInWindow: d(atConvergence, "events_written_total"),
    };
    if (!binary) {
      // Wait until the recorder has written everything, then read its delivery-lag histogram.
      const emitted = d(atConvergence, "events_emitted_total");
      let after = atConvergence;
      for (let i = 0; i < 600 && d(after, "events_written_total") < emitted; i++) {
        await new Promise((r) => setTimeout(r, 200));
        after = await op.metrics();
      }
      const count = d(after, "events_delivery_lag_seconds_count");
      result.within10s = d(after, "events_delivery_lag_seconds_bucket", { le: "10" }) / count;
      for (
        const le of ["0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "20", "30", "60"]
      ) {
        if (d(after, "events_delivery_lag_seconds_bucket", { le }) >= 0.99 * count) {
          result.p99Bound = Number(le);
          break;
        }
      }
    }
    return result;
  } finally {
    watch.stop();
    events?.stop();
    await op.stop("SIGTERM");
  }
}

/** Reads `--name=value` options. */
function option(argv: string[], name: string): string | undefined {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

async function main(argv: string[]): Promise<void> {
  const sizesWanted = argv.filter((a) => !a.startsWith("--")).map(Number).filter((x) =>
    Number.isInteger(x) && x > 0
  );
  const baselineBinary = option(argv, "baseline-binary");
  const pairs = Number(option(argv, "pairs") ?? 4);
  const watchEvents = option(argv, "watch-events") === "true";
  const ns = sizesWanted.length ? sizesWanted : [1000, 10_000];
  // Only sizes without an A/B comparison get the watched run unless asked: `--watched=false` skips it.
  const watched = option(argv, "watched") !== "false";
  const command = ["deno run -A bench/events/burst.ts", ...argv].join(" ");
  const ctx = new BenchContext(sizes(false), command);
  const results: BurstResult[] = [];
  const loadStart = loadAverage().join(" / ");
  try {
    const machine = await machineInfo((await ctx.cluster(`burst-${ns[0]}`)).admin);
    const ab: { n: number; runs: Timed[] }[] = [];
    if (baselineBinary) {
      for (const n of ns) {
        const runs: Timed[] = [];
        for (let i = 0; i < pairs; i++) {
          // ABBA: new, baseline, baseline, new, ...
          const order = i % 2 === 0 ? [undefined, baselineBinary] : [baselineBinary, undefined];
          for (const b of order) {
            const t = await timed(ctx, n, b, watchEvents);
            console.log(`  ${n} ${t.build}: ${fmt(t.seconds, 2)} s`, t);
            runs.push(t);
          }
        }
        ab.push({ n, runs });
      }
    }
    for (const n of watched ? ns : []) {
      const r = await burst(ctx, n);
      console.log(r);
      results.push(r);
    }
    const lines = [
      "# Events of a burst of new DataFlows",
      "",
      `- Date: ${machine.date}; command: \`${command}\``,
      `- Machine: ${machine.nproc} CPUs (nproc), ${machine.memoryGiB} GiB memory, ${machine.platform}; shared with other work`,
      `- Load average (1/5/15 min): ${loadStart} at the start, ${loadAverage().join(" / ")} at the end`,
      `- Runtimes: ${machine.deno}; ${machine.bun}; API server: ${machine.apiserver}`,
      "- Operator: `dist/dataflow-operator-bun --leader-elect=false --namespace=<fresh namespace>`, default settings",
      "  (4 reconcile workers; event recorder: adaptive window 1-32, yielding to reconciles while DataFlows wait).",
      "- DataFlows created 16 at a time; convergence as in bench/throughput.ts (ConfigMap, Deployment, observedGeneration).",
      "- Latency per Event: first seen by a watch minus its `eventTime` (the emitting reconcile's clock; same machine).",
      "  The operator is stopped only after every emitted occurrence was seen, so no Event went out in a shutdown flush.",
      "",
      "| DataFlows | Convergence (s) | Events / occurrences (emitted) | p50 (s) | p99 (s) | max (s) | > 10 s | > 60 s | Event writes per Event | Dropped | Folded into overflow | Max queue | Last Event after convergence (s) | Window halved (429 / 5xx / latency) | Load at end |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...results.map((r) =>
        `| ${r.n} | ${fmt(r.convergence, 1)} | ${r.events} / ${r.occurrences} (${r.emitted})${
          r.complete ? "" : " **incomplete**"
        } | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.max, 2)} | ${r.over10} | ${r.over60} | ${
          fmt(r.writes / r.events, 3)
        } | ${r.dropped} | ${r.overflow} | ${r.maxQueue} | ${
          fmt(r.drainAfterConvergence, 1)
        } | ${r.backoffs.throttled} / ${r.backoffs.server_error} / ${r.backoffs.latency} | ${r.load} |`
      ),
      "",
      "Targets (issue 12): p99 <= 10 s for 1,000 new DataFlows and <= 60 s for 10,000; no occurrence dropped; <= 2 writes per series.",
      ...(ab.length
        ? [
          "",
          "## Convergence against the build before the change",
          "",
          `Baseline: \`${baselineBinary}\`. ${pairs} pairs per size on the size's control plane, in ABBA order, ${
            watchEvents
              ? "**with** an Event watch in the benchmark process (--watch-events=true)"
              : "no Event watch"
          };`,
          "event latency from the new build's own `events_delivery_lag_seconds` (emission -> answer to the write).",
          "",
          "| DataFlows | Pair | New (s) | Baseline (s) | New / baseline | Event writes before convergence (new / baseline) | New: writes within 10 s | New: p99 <= (s) |",
          "|---|---|---|---|---|---|---|---|",
          ...ab.flatMap(({ n, runs }) => {
            const rows: string[] = [];
            for (let i = 0; i < runs.length; i += 2) {
              const a = runs.slice(i, i + 2);
              const nw = a.find((t) => t.build === "new")!;
              const bl = a.find((t) => t.build === "baseline")!;
              rows.push(
                `| ${n} | ${i / 2 + 1} | ${fmt(nw.seconds, 2)} | ${fmt(bl.seconds, 2)} | ${
                  fmt(nw.seconds / bl.seconds, 3)
                } | ${nw.eventsInWindow} / ${bl.eventsInWindow} | ${
                  fmt((nw.within10s ?? NaN) * 100, 1)
                } % | ${nw.p99Bound ?? "> 60"} |`,
              );
            }
            const ratios = [];
            for (let i = 0; i < runs.length; i += 2) {
              const a = runs.slice(i, i + 2);
              ratios.push(
                a.find((t) => t.build === "new")!.seconds / a.find((t) => t.build === "baseline")!.seconds,
              );
            }
            const sum = (b: Timed["build"]) =>
              runs.filter((t) => t.build === b).reduce((x, t) => x + t.seconds, 0);
            rows.push(
              `| ${n} | **all** | ${fmt(sum("new") / pairs, 2)} (mean) | ${
                fmt(sum("baseline") / pairs, 2)
              } (mean) | **${fmt(median(ratios), 3)}** (median; mean ratio ${
                fmt(sum("new") / sum("baseline"), 3)
              }) | | | |`,
            );
            return rows;
          }),
        ]
        : []),
      "",
    ];
    // A comparison alone (--watched=false) goes to its own file, next to the watched runs' results.
    const out = join(dirname(fileURLToPath(import.meta.url)), watched ? "burst.md" : "burst-ab.md");
    writeFileSync(out, lines.join("\n"));
    const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
    if (deno) {
      const { spawnSync } = await import("node:child_process");
      spawnSync(deno.execPath(), ["fmt", "--quiet", out], { stdio: "inherit" });
    }
    console.log(lines.join("\n"));
  } finally {
    await ctx.close();
  }
}

await main(process.argv.slice(2));
