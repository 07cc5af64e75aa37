/**
 * Where the operator's memory goes, per cached kind: runs on Bun (`bun bench/lib/heap-by-kind.ts
 * <kubeconfig> <dataflows>`), builds the operator exactly as the CLI does (createOperator, the
 * same informers, transforms and options) and starts its informers one kind at a time, measuring
 * JavaScriptCore's live heap after a full collection (`Bun.gc(true)`, `heapStats()` of bun:jsc)
 * before and after each kind's initial list. Then it runs the controller (no health or metrics
 * server, no leader election) until every DataFlow was reconciled once and measures again: what
 * the first pass keeps. Prints one JSON line (last line of stdout) for bench/scale.ts.
 */
import process from "node:process";
import { connect } from "../../lib/kube/config.ts";
import { createOperator } from "../../lib/dataflow/operator.ts";
import { processorSettingsFromEnv } from "../../lib/dataflow/cli.ts";
import { configureLogging } from "../../lib/observe/log.ts";
import { Registry } from "../../lib/observe/metrics.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import type { NamespacedInformers } from "../../lib/runtime/mod.ts";

interface HeapStats {
  heapSize: number;
  extraMemorySize: number;
  objectCount: number;
  objectTypeCounts: Record<string, number>;
}

/** One kind's share of the heap. */
export interface KindHeap {
  kind: string;
  objects: number;
  /** Seconds from starting the kind's informers to synced (this kind alone, nothing else running). */
  listSeconds: number;
  /** Growth of the live heap (heapSize + extraMemorySize after a full GC), bytes. */
  heapBytes: number;
  /** Growth of the RSS over the same step (allocator slack included), bytes. */
  rssBytes: number;
  /** Growth of JSC's live object count. */
  cells: number;
}

/** What the script prints. */
export interface HeapByKind {
  baseline: { heapBytes: number; rssBytes: number };
  kinds: KindHeap[];
  firstPass: { reconciles: number; seconds: number; heapBytes: number; rssBytes: number; cells: number };
  /** Live heap and RSS at the end. */
  end: { heapBytes: number; rssBytes: number };
  /** The most numerous JSC cell types at the end. */
  topTypes: [string, number][];
}

type Bun = { gc(force: boolean): void };

async function main(): Promise<void> {
  const [kubeconfig, expected] = process.argv.slice(2);
  configureLogging({ level: "warning", format: "json" });
  const bun = (globalThis as { Bun?: Bun }).Bun;
  if (!bun) throw new Error("heap-by-kind.ts runs on Bun");
  // A computed specifier: Deno's type check must not resolve a Bun-only module.
  const jsc = await import(["bun", "jsc"].join(":")) as { heapStats(): HeapStats };
  const measure = () => {
    bun.gc(true);
    bun.gc(true);
    const h = jsc.heapStats();
    return {
      heapBytes: h.heapSize + h.extraMemorySize,
      rssBytes: process.memoryUsage().rss,
      cells: h.objectCount,
    };
  };
  const conn = await connect({ kubeconfig });
  const registry = new Registry();
  const operator = createOperator({
    client: conn.client,
    processor: processorSettingsFromEnv(process.env),
    registry,
    healthBindAddress: "0",
    metricsBindAddress: "0",
    handleSignals: false,
    concurrency: 4,
    cacheSyncTimeoutMs: 600_000,
  });
  const baseline = measure();
  const kinds: KindHeap[] = [];
  const order: [string, NamespacedInformers<KubeObject>][] = [
    ["Secret (metadata)", operator.secrets],
    ["ConfigMap", operator.configMaps],
    ["Deployment", operator.deployments],
    ["DataFlow", operator.dataflows as unknown as NamespacedInformers<KubeObject>],
  ];
  let before = baseline;
  for (const [kind, informers] of order) {
    const t0 = performance.now();
    for (const i of informers.informers) i.start();
    await Promise.all(informers.informers.map((i) => i.waitForSync()));
    const listSeconds = (performance.now() - t0) / 1000;
    const after = measure();
    kinds.push({
      kind,
      objects: informers.informers.reduce((n, i) => n + i.size, 0),
      listSeconds,
      heapBytes: after.heapBytes - before.heapBytes,
      rssBytes: after.rssBytes - before.rssBytes,
      cells: after.cells - before.cells,
    });
    before = after;
  }
  // The controller: the informers are running already (start() returns the running loop).
  const t0 = performance.now();
  void operator.manager.run();
  const want = Number(expected);
  // Summed over the series of the dataflow controller and queue (every result label).
  const value = (name: string) =>
    registry.render().split("\n")
      .filter((l) => l.startsWith(name + "{") && /(controller|name)="dataflow"/.test(l))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    if (
      value("controller_runtime_reconcile_total") >= want && value("workqueue_depth") === 0 &&
      value("controller_runtime_active_workers") === 0
    ) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const end = measure();
  const types = Object.entries(jsc.heapStats().objectTypeCounts).sort((a, b) => b[1] - a[1]).slice(0, 15);
  const out: HeapByKind = {
    baseline: { heapBytes: baseline.heapBytes, rssBytes: baseline.rssBytes },
    kinds,
    firstPass: {
      reconciles: value("controller_runtime_reconcile_total"),
      seconds,
      heapBytes: end.heapBytes - before.heapBytes,
      rssBytes: end.rssBytes - before.rssBytes,
      cells: end.cells - before.cells,
    },
    end: { heapBytes: end.heapBytes, rssBytes: end.rssBytes },
    topTypes: types,
  };
  console.log(JSON.stringify(out));
  process.exit(0);
}

await main();
