/**
 * Benchmark 3, memory: resident memory (VmRSS; peak = VmHWM, from /proc/<pid>/status) of the
 * operator's own process, in the two ways a cluster fills its caches:
 *
 * - restart: the operator starts on a cluster where N DataFlows with their ConfigMaps and
 *   Deployments exist and are converged (it lists them, reconciles each once, writes nothing);
 * - burst: the operator runs on a fresh control plane and N new DataFlows are created at once
 *   (it writes 6 objects per DataFlow, its events included).
 *
 * N = 1,000 and 10,000 for the Bun binary (issue 12's targets, MiB: at 10,000 settled <= 195 and
 * peak <= 223; at 1,000 settled and peak <= 74; peak <= 1.3 x settled), and the restart over
 * 10,000 on Deno for comparison; plus the idle process on a control plane without DataFlows.
 * Where the memory goes, by cached kind, is measured by `bench/lib/heap-by-kind.ts` (run here
 * on the 10,000-DataFlow cluster).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { installOperatorIdentity } from "../tests/e2e/install.ts";
import { repoRoot } from "../tests/e2e/manifests.ts";
import { clientFor, freshNamespace } from "../tests/controlplane/env.ts";
import { ControlPlane } from "../tests/controlplane/harness.ts";
import type { BenchContext } from "./lib/context.ts";
import type { HeapByKind } from "./lib/heap-by-kind.ts";
import { machineInfo } from "./lib/machine.ts";
import { BUN, commandOf, metricSum, type Runtime, startOperator, waitForReconciles } from "./lib/operator.ts";
import { readyAt } from "./lib/probe.ts";
import { memoryOf } from "./lib/proc.ts";
import { type SummaryRow, writeResults } from "./lib/report.ts";
import { fmt, median, sleep } from "./lib/stats.ts";
import { createDataFlows, floorWrites, names } from "./lib/writer.ts";

const MiB = 1024 * 1024;
/** Seconds of quiet after the last reconcile (and event write) before the settled samples. */
const SETTLE_S = 5;
/** Samples of the settled RSS, one a second (their median is the settled figure). */
const SAMPLES = 5;

/** One measured start. */
interface Sample {
  /** Settled VmRSS (median of the samples), bytes. */
  settled: number;
  /** VmHWM at the end: the peak of the whole run. */
  peak: number;
  /** VmHWM when every cache had synced (restart only): the peak of the initial list. */
  listPeak?: number;
  /** Objects in the informer caches (informer_objects). */
  cached: number;
  /** Seconds from spawn to every DataFlow reconciled (restart) or converged with its events written (burst). */
  seconds: number;
}

/** Median settled RSS over {@link SAMPLES} samples taken after {@link SETTLE_S} s of quiet. */
async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_S * 1000);
  const rss: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    rss.push(memoryOf(pid).rss);
    await sleep(1000);
  }
  return median(rss);
}

/** The operator started on a cluster whose `reconciles` DataFlows are converged. */
async function restart(runtime: Runtime, kubeconfig: string, reconciles: number): Promise<Sample> {
  const { op, pid, spawnedAt } = await startOperator({ runtime, kubeconfig });
  try {
    // The controller logs this once every informer has synced, just before its workers start.
    await op.waitForLine(/starting \d+ workers of controller/, 300_000);
    const listPeak = memoryOf(pid).hwm;
    await readyAt(op, 20);
    const metrics = await waitForReconciles(op, reconciles, 600_000, 500);
    const seconds = (Date.now() - spawnedAt) / 1000;
    return {
      settled: await settledRss(pid),
      listPeak,
      peak: memoryOf(pid).hwm,
      cached: metricSum(metrics, "informer_objects"),
      seconds,
    };
  } finally {
    await op.stop();
  }
}

/** The operator on a fresh control plane while `count` new DataFlows are created. */
async function burst(count: number): Promise<Sample> {
  const cp = await ControlPlane.start();
  const admin = clientFor(cp);
  try {
    const identity = await installOperatorIdentity(cp);
    const namespace = await freshNamespace(cp, "burst");
    const { op, pid, spawnedAt } = await startOperator({
      runtime: "bun",
      kubeconfig: identity.kubeconfigPath,
    });
    try {
      await readyAt(op, 20);
      await createDataFlows(admin, namespace, names("df", count), 16);
      const metrics = await waitForReconciles(op, count, 900_000, 500);
      // Every event the burst emitted is on the server (the recorder writes them after the reconciles).
      const emitted = metricSum(metrics, "events_emitted_total");
      let last = metrics;
      for (let i = 0; i < 1200 && metricSum(last, "events_written_total") < emitted; i++) {
        await sleep(500);
        last = await op.metrics();
      }
      const seconds = (Date.now() - spawnedAt) / 1000;
      return {
        settled: await settledRss(pid),
        peak: memoryOf(pid).hwm,
        cached: metricSum(last, "informer_objects"),
        seconds,
      };
    } finally {
      await op.stop();
    }
  } finally {
    admin.transport.close();
    await cp.stop();
  }
}

/** `bench/lib/heap-by-kind.ts` on Bun against `kubeconfig`: the live heap of each cached kind. */
async function heapByKind(kubeconfig: string, dataflows: number): Promise<HeapByKind> {
  const { stdout } = await promisify(execFile)(
    BUN[0],
    [...BUN.slice(1), join(repoRoot, "bench", "lib", "heap-by-kind.ts"), kubeconfig, String(dataflows)],
    { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

/** A 1,000-DataFlow cluster written converged by the floor writer (the 10,000 one is the context's). */
async function smallCluster(ctx: BenchContext, count: number): Promise<string> {
  const cluster = await ctx.cluster("memory-small");
  const namespace = await freshNamespace(cluster.cp, "mem");
  await floorWrites(cluster.admin, namespace, names("df", count), 16, { events: false });
  return cluster.identity.kubeconfigPath;
}

const mib = (bytes: number, digits = 1) => fmt(bytes / MiB, digits);

/** Runs the memory benchmark and writes bench/results/memory.md. */
export async function memory(ctx: BenchContext): Promise<void> {
  const small = ctx.sizes.throughput;
  const large = ctx.sizes.scale;
  const runs = ctx.sizes.runs;
  const empty = await ctx.cluster("empty");
  const machine = await machineInfo(empty.admin);
  const results: Record<string, Sample[]> = {};
  const record = (label: string, s: Sample) => {
    (results[label] ??= []).push(s);
    console.log(
      `  ${label} run ${results[label].length}: ${mib(s.settled)} MiB settled, ${mib(s.peak)} MiB peak`,
    );
  };
  for (let run = 0; run < runs; run++) {
    for (const rt of ["bun", "deno"] as const) {
      record(`${rt} idle`, await restart(rt, empty.identity.kubeconfigPath, 0));
    }
  }
  const smallConfig = await smallCluster(ctx, small);
  for (let run = 0; run < runs; run++) {
    record(`bun restart ${small}`, await restart("bun", smallConfig, small));
  }
  for (let run = 0; run < runs; run++) record(`bun burst ${small}`, await burst(small));
  const scale = await ctx.scaleCluster();
  const largeConfig = scale.cluster.identity.kubeconfigPath;
  const parts = await heapByKind(largeConfig, large);
  for (let run = 0; run < runs; run++) {
    for (const rt of ["bun", "deno"] as const) {
      record(`${rt} restart ${large}`, await restart(rt, largeConfig, large));
    }
  }
  for (let run = 0; run < runs; run++) record(`bun burst ${large}`, await burst(large));

  const med = (label: string, f: (s: Sample) => number) => median(results[label].map(f));
  const rows: string[] = [];
  const summary: SummaryRow[] = [];
  const verdicts: string[] = [];
  for (const label of Object.keys(results)) {
    const settled = med(label, (s) => s.settled);
    const peak = med(label, (s) => s.peak);
    const listPeak = results[label][0].listPeak === undefined ? undefined : med(label, (s) => s.listPeak!);
    rows.push(
      `| ${label} | ${med(label, (s) => s.cached)} | ${fmt(med(label, (s) => s.seconds))} | ${
        mib(settled)
      } | ${listPeak === undefined ? "–" : mib(listPeak)} | ${mib(peak)} | ${fmt(peak / settled, 2)} |`,
    );
    const n = Number(label.split(" ").at(-1));
    if (!label.startsWith("bun ") || !(n > 0)) continue;
    const [settledMax, peakMax] = n >= 10_000 ? [195, 223] : [74, 74];
    const met = settled <= settledMax * MiB && peak <= peakMax * MiB && peak <= 1.3 * settled;
    summary.push({
      figure: `3. Memory, Bun binary, ${label.slice(4)} DataFlows`,
      target: `settled <= ${settledMax} MiB, peak <= ${peakMax} MiB, peak <= 1.3 x settled`,
      value: `${mib(settled)} / ${mib(peak)} MiB (${fmt(peak / settled, 2)} x)`,
      met,
    });
    verdicts.push(
      `- ${label}: settled ${mib(settled)} MiB (<= ${settledMax}), peak ${mib(peak)} MiB (<= ${peakMax}), ${
        fmt(peak / settled, 2)
      } x (<= 1.3): **${met ? "met" : "not met"}**.`,
    );
  }
  const partRows = parts.kinds.map((k) =>
    `| ${k.kind} | ${k.objects} | ${fmt(k.heapBytes / MiB)} | ${
      fmt(k.heapBytes / Math.max(1, k.objects), 0)
    } | ${fmt(k.cells / Math.max(1, k.objects), 1)} | ${fmt(k.rssBytes / MiB)} |`
  );
  const body = [
    `The operator (\`${commandOf("bun")}\`, and \`${
      commandOf("deno")
    }\` for comparison; \`--leader-elect=false\`, all`,
    `namespaces, the ServiceAccount of deploy/rbac.yaml). **restart N**: started on a cluster where N DataFlows, their`,
    `ConfigMaps and Deployments exist converged (written with the operator's builders; ${large} in ${
      fmt(scale.seconds, 0)
    } s), so it`,
    `lists them and reconciles each once without writing. **burst N**: started on a fresh control plane, then N new`,
    `DataFlows are created (16 in flight); it writes their finalizers, ConfigMaps, Deployments, statuses and 2 events`,
    `each. **idle**: a control plane without DataFlows. Settled = median of ${SAMPLES} VmRSS samples (1 s apart) taken`,
    `${SETTLE_S} s after the last reconcile (burst: after the last event write). List peak = VmHWM when every cache had`,
    `synced ("starting N workers"). Peak = VmHWM at the end. Medians of ${runs} runs; MiB = 2^20 bytes.`,
    "",
    `| Run | Cached objects | Seconds (spawn to done) | Settled RSS (MiB) | List peak (MiB) | Peak (MiB) | Peak / settled |`,
    `|---|---|---|---|---|---|---|`,
    ...rows,
    "",
    ...verdicts,
    "",
    `### Where the memory goes`,
    "",
    `\`bun bench/lib/heap-by-kind.ts\` on the ${large}-DataFlow cluster: the operator's informers started one kind at a`,
    `time in one Bun process, JavaScriptCore's live heap (after \`Bun.gc(true)\`) and RSS before and after each kind,`,
    `then the first pass over every DataFlow.`,
    "",
    `| Kind | Objects | Live heap (MiB) | Bytes per object | JS cells per object | RSS growth (MiB) |`,
    `|---|---|---|---|---|---|`,
    ...partRows,
    "",
    `- Baseline before any informer: live heap ${fmt(parts.baseline.heapBytes / MiB)} MiB, RSS ${
      fmt(parts.baseline.rssBytes / MiB)
    } MiB.`,
    `- First pass (${parts.firstPass.reconciles} reconciles in ${
      fmt(parts.firstPass.seconds)
    } s): the live heap grew ${fmt(parts.firstPass.heapBytes / MiB)} MiB, RSS ${
      fmt(parts.firstPass.rssBytes / MiB)
    } MiB.`,
    `- End: live heap ${fmt(parts.end.heapBytes / MiB)} MiB, RSS ${
      fmt(parts.end.rssBytes / MiB)
    } MiB. Most numerous cells: ${parts.topTypes.slice(0, 6).map(([t, n]) => `${t} ${n}`).join(", ")}.`,
    "",
    `Samples (MiB, settled / peak):`,
    "",
    ...Object.entries(results).map(([label, xs]) =>
      `- ${label}: ${xs.map((s) => `${mib(s.settled)} / ${mib(s.peak)}`).join(", ")}`
    ),
  ];
  writeResults({
    summary,
    name: "memory",
    title: "Benchmark 3: memory, restart over and burst of 1,000 and 10,000 DataFlows",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: { results, parts, scaleSeconds: scale.seconds },
  });
}
