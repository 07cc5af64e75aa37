/**
 * Benchmark 3, memory: resident memory (VmRSS, VmHWM from /proc/<pid>/status) of the operator
 * with 10,000 DataFlows and their 20,000 ConfigMaps and Deployments cached, on Deno and on Bun
 * (the compiled binary), against the idle baseline of the same runtime (the same operator on a
 * control plane without DataFlows). Targets on Bun: <= 150 MB in total, <= 2.5 KB per cached
 * object; peak during the initial list <= 1.5 x the settled figure. MB and KB are decimal
 * (10^6, 10^3 bytes), the stricter reading.
 */
import type { KubeClient, KubeObject } from "../lib/kube/client.ts";
import { builtin, type ResourceType } from "../lib/kube/resources.ts";
import { DataFlowType, OWNED_SELECTOR } from "../lib/dataflow/names.ts";
import type { BenchContext } from "./lib/context.ts";
import { machineInfo } from "./lib/machine.ts";
import { commandOf, metricSum, type Runtime, startOperator, waitForReconciles } from "./lib/operator.ts";
import { readyAt } from "./lib/probe.ts";
import { memoryOf } from "./lib/proc.ts";
import { type SummaryRow, writeResults } from "./lib/report.ts";
import { fmt, median, sleep } from "./lib/stats.ts";

const MB = 1e6;
/** Seconds of quiet after the last reconcile before the settled samples. */
const SETTLE_S = 5;
/** Samples of the settled RSS, one a second (their median is the settled figure). */
const SAMPLES = 5;

interface Sample {
  /** Settled VmRSS (median of the samples), bytes. */
  settled: number;
  /** VmHWM when the controller logged that every cache had synced: the peak of the initial list. */
  listPeak: number;
  /** VmHWM at the end (includes reconciling everything once). */
  peak: number;
  /** Objects in the operator's informer caches (informer_objects). */
  cached: number;
  /** Seconds from spawn to ready. */
  readySeconds: number;
}

async function measure(runtime: Runtime, kubeconfig: string, reconciles: number): Promise<Sample> {
  const { op, pid, spawnedAt } = await startOperator({ runtime, kubeconfig });
  try {
    // The controller logs this once every informer has synced, just before its workers start.
    await op.waitForLine(/starting \d+ workers of controller/, 300_000);
    const listPeak = memoryOf(pid).hwm;
    const ready = await readyAt(op, 20);
    const metrics = await waitForReconciles(op, reconciles, 600_000, 500);
    await sleep(SETTLE_S * 1000);
    const rss: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      rss.push(memoryOf(pid).rss);
      await sleep(1000);
    }
    return {
      settled: median(rss),
      listPeak,
      peak: memoryOf(pid).hwm,
      cached: metricSum(metrics, "informer_objects"),
      readySeconds: (ready - spawnedAt) / 1000,
    };
  } finally {
    await op.stop();
  }
}

/** Mean JSON size per object of each cached kind, as the cache holds them (managedFields stripped). */
async function jsonBytesPerObject(admin: KubeClient, namespace: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const kinds: [string, ResourceType, string | undefined][] = [
    ["DataFlow", DataFlowType, undefined],
    ["ConfigMap", builtin.ConfigMap, OWNED_SELECTOR],
    ["Deployment", builtin.Deployment, OWNED_SELECTOR],
  ];
  for (const [kind, rt, labelSelector] of kinds) {
    const list = await admin.listAll<KubeObject>(rt, { namespace, labelSelector });
    let bytes = 0;
    for (const o of list.items) {
      const { managedFields: _, ...metadata } = o.metadata ?? {};
      bytes += JSON.stringify({ ...o, metadata }).length;
    }
    out[kind] = Math.round(bytes / Math.max(1, list.items.length));
  }
  return out;
}

/** Runs the memory benchmark and writes bench/results/memory.md. */
export async function memory(ctx: BenchContext): Promise<void> {
  const runtimes: Runtime[] = ["bun", "deno"];
  const empty = await ctx.cluster("empty");
  const machine = await machineInfo(empty.admin);
  const idle: Record<string, Sample[]> = { bun: [], deno: [] };
  const loaded: Record<string, Sample[]> = { bun: [], deno: [] };
  for (const rt of runtimes) {
    for (let run = 0; run < ctx.sizes.runs; run++) {
      idle[rt].push(await measure(rt, empty.identity.kubeconfigPath, 0));
      console.log(`  ${rt} idle run ${run + 1}: ${fmt(idle[rt].at(-1)!.settled / MB)} MB`);
    }
  }
  const scale = await ctx.scaleCluster();
  const jsonBytes = await jsonBytesPerObject(scale.cluster.admin, scale.namespaces[0]);
  for (const rt of runtimes) {
    for (let run = 0; run < ctx.sizes.runs; run++) {
      loaded[rt].push(await measure(rt, scale.cluster.identity.kubeconfigPath, ctx.sizes.scale));
      const s = loaded[rt].at(-1)!;
      console.log(
        `  ${rt} loaded run ${run + 1}: ${fmt(s.settled / MB)} MB settled, list peak ${
          fmt(s.listPeak / MB)
        } MB`,
      );
    }
  }

  const med = (xs: Sample[], f: (s: Sample) => number) => median(xs.map(f));
  const rows: string[] = [];
  const verdicts: string[] = [];
  const summary: SummaryRow[] = [];
  for (const rt of runtimes) {
    const base = med(idle[rt], (s) => s.settled);
    const settled = med(loaded[rt], (s) => s.settled);
    const cached = med(loaded[rt], (s) => s.cached);
    const perObject = (settled - base) / cached;
    const listPeak = med(loaded[rt], (s) => s.listPeak);
    const peak = med(loaded[rt], (s) => s.peak);
    rows.push(
      `| ${rt === "bun" ? "Bun (compiled)" : "Deno"} | ${fmt(base / MB)} | ${
        fmt(settled / MB)
      } | ${cached} | ${fmt(perObject / 1000, 2)} | ${fmt(listPeak / MB)} (${
        fmt(listPeak / settled, 2)
      } x) | ${fmt(peak / MB)} (${fmt(peak / settled, 2)} x) |`,
    );
    summary.push({
      figure: `3. Memory, ${rt === "bun" ? "Bun (compiled)" : "Deno"}: ${cached} objects cached (idle ${
        fmt(base / MB)
      } MB)`,
      target: rt === "bun" ? "<= 150 MB; <= 2.5 KB/object; list peak <= 1.5 x" : "none (comparison)",
      value: `${fmt(settled / MB)} MB settled; ${fmt(perObject / 1000, 2)} KB/object; list peak ${
        fmt(listPeak / settled, 2)
      } x`,
      met: rt === "bun" ? settled <= 150 * MB && perObject <= 2500 && listPeak <= 1.5 * settled : null,
    });
    if (rt === "bun") {
      verdicts.push(
        `- Bun total <= 150 MB: **${settled <= 150 * MB ? "met" : "not met"}** (${fmt(settled / MB)} MB).`,
        `- Bun <= 2.5 KB per cached object: **${perObject <= 2500 ? "met" : "not met"}** (${
          fmt(perObject / 1000, 2)
        } KB).`,
        `- Bun peak during the initial list <= 1.5 x settled: **${
          listPeak <= 1.5 * settled ? "met" : "not met"
        }** (${
          fmt(listPeak / settled, 2)
        } x; over the whole start including the first reconcile of everything: ${fmt(peak / settled, 2)} x).`,
      );
    }
  }
  const body = [
    `The operator (\`${commandOf("bun")}\` and \`${
      commandOf("deno")
    }\`, \`--leader-elect=false\`, all namespaces,`,
    `ServiceAccount of deploy/rbac.yaml) on a control plane with ${ctx.sizes.scale} DataFlows, each with its ConfigMap and`,
    `Deployment (written once with the operator's builders in ${
      fmt(scale.seconds, 0)
    } s, so the operator finds them`,
    `converged), and, for the idle baseline, on a control plane without DataFlows. Settled = median of ${SAMPLES} VmRSS samples`,
    `(1 s apart) taken ${SETTLE_S} s after the operator reconciled every DataFlow once and its queue was empty. Peak of the`,
    `initial list = VmHWM read when the operator logged "starting 1 workers" (every cache synced, before any reconcile).`,
    `Figures are medians of ${ctx.sizes.runs} runs per`,
    `runtime and cluster. Per object = (settled − idle) / objects in the informer caches (informer_objects: DataFlows,`,
    `ConfigMaps, Deployments and Secret metadata).`,
    "",
    `| Runtime | Idle RSS (MB) | Settled RSS (MB) | Cached objects | Per object (KB) | Peak, initial list (MB) | Peak, whole start (MB) |`,
    `|---|---|---|---|---|---|---|`,
    ...rows,
    "",
    ...verdicts,
    "",
    `What is cached: mean JSON size per object as the informers hold it (managedFields stripped): ${
      Object.entries(jsonBytes).map(([k, v]) => `${k} ${v} B`).join(", ")
    }, i.e. ${
      fmt(Object.values(jsonBytes).reduce((a, b) => a + b, 0) / 3 / 1000, 2)
    } KB per object on average before`,
    `any in-memory overhead (a parsed JS object typically takes a few times its JSON size).`,
    "",
    `Samples (MB, settled / list peak / peak):`,
    "",
    ...runtimes.flatMap((rt) => [
      `- ${rt} idle: ${idle[rt].map((s) => fmt(s.settled / MB)).join(", ")}`,
      `- ${rt} loaded: ${
        loaded[rt].map((s) => `${fmt(s.settled / MB)} / ${fmt(s.listPeak / MB)} / ${fmt(s.peak / MB)}`).join(
          ", ",
        )
      }`,
    ]),
  ];
  writeResults({
    summary,
    name: "memory",
    title: "Benchmark 3: memory with 10,000 DataFlows cached",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: { idle, loaded, scaleSeconds: scale.seconds, jsonBytes },
  });
}
