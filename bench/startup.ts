/**
 * Benchmark 4, start-up: (a) with 10,000 existing (converged) DataFlows, process start to synced
 * caches (/readyz 200) and to the first reconcile (the operator's debug line "reconciled <key>",
 * by its timestamp), plus the time to the last of the 10,000 first reconciles and the writes the
 * start made (should be 0); target first reconcile < 3 s. (b) With no DataFlows, process start to
 * ready (/readyz 200) of the compiled Bun binary; target < 200 ms (Deno shown for comparison).
 * "Process start" is Date.now() just before spawning (the guard shell's fork + exec included).
 */
import {
  byVerbResource,
  diffRequests,
  formatCounts,
  operatorWrites,
  snapshotRequests,
} from "./lib/apiserver.ts";
import type { BenchContext } from "./lib/context.ts";
import type { KubeClient } from "../lib/kube/client.ts";
import { machineInfo } from "./lib/machine.ts";
import { commandOf, type Runtime, startOperator } from "./lib/operator.ts";
import { loggedAt, logLines, readyAt } from "./lib/probe.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, range } from "./lib/stats.ts";

/** Runs of the (short) empty start-up. */
const EMPTY_RUNS = 7;

interface LoadedSample {
  /** The controller's "starting N workers" line: logged once every informer synced. */
  syncedMs: number;
  /** First 200 of /readyz, as a probe sees it (answered between reconciles, so it can come later). */
  readyMs: number;
  firstReconcileMs: number;
  allReconciledMs: number;
  writes: number;
  requests: Record<string, number>;
  /** ms after spawn of each informer's "listed N objects" line. */
  listed: Record<string, number>;
}

const RECONCILED = /^reconciled \S+$/;

async function loadedStart(
  runtime: Runtime,
  kubeconfig: string,
  n: number,
  admin: KubeClient,
): Promise<LoadedSample> {
  const before = await snapshotRequests(admin);
  const { op, spawnedAt } = await startOperator({ runtime, kubeconfig, env: { LOG_LEVEL: "debug" } });
  try {
    const ready = await readyAt(op, 10);
    const synced = await loggedAt(op, /^starting \d+ workers of controller/, 1);
    const first = await loggedAt(op, RECONCILED, 1);
    const all = await loggedAt(op, RECONCILED, n, 600_000);
    await new Promise((r) => setTimeout(r, 2000));
    const delta = diffRequests(before, await snapshotRequests(admin));
    const listed: Record<string, number> = {};
    for (const l of logLines(op)) {
      const m = l.message.match(/^listed (\d+) objects of (\S+) at/);
      if (m) listed[`${m[2].replaceAll('"', "")} (${m[1]})`] = l.at - spawnedAt;
    }
    return {
      syncedMs: synced - spawnedAt,
      readyMs: ready - spawnedAt,
      firstReconcileMs: first - spawnedAt,
      allReconciledMs: all - spawnedAt,
      writes: operatorWrites(delta),
      requests: byVerbResource(delta),
      listed,
    };
  } finally {
    await op.stop();
  }
}

/** Runs the start-up benchmark and writes bench/results/startup.md. */
export async function startup(ctx: BenchContext): Promise<void> {
  const runtimes: Runtime[] = ["bun", "deno"];
  const empty = await ctx.cluster("empty");
  const machine = await machineInfo(empty.admin);
  const emptyMs: Record<string, number[]> = { bun: [], deno: [] };
  for (const rt of runtimes) {
    // One untimed start first: Deno's module cache, the page cache of the binary.
    for (let run = -1; run < EMPTY_RUNS; run++) {
      const { op, spawnedAt } = await startOperator({
        runtime: rt,
        kubeconfig: empty.identity.kubeconfigPath,
      });
      try {
        const ms = (await readyAt(op, 2)) - spawnedAt;
        if (run >= 0) emptyMs[rt].push(ms);
      } finally {
        await op.stop();
      }
    }
    console.log(`  ${rt} empty: ready in ${emptyMs[rt].join(", ")} ms`);
  }
  const scale = await ctx.scaleCluster();
  const n = ctx.sizes.scale;
  const loaded: Record<string, LoadedSample[]> = { bun: [], deno: [] };
  for (const rt of runtimes) {
    for (let run = 0; run < ctx.sizes.runs; run++) {
      const s = await loadedStart(rt, scale.cluster.identity.kubeconfigPath, n, scale.cluster.admin);
      loaded[rt].push(s);
      console.log(
        `  ${rt} ${n}: ready ${s.readyMs} ms, first reconcile ${s.firstReconcileMs} ms, all ${s.allReconciledMs} ms, writes ${s.writes}`,
      );
    }
  }
  const med = (rt: string, f: (s: LoadedSample) => number) => median(loaded[rt].map(f));
  const bunFirst = med("bun", (s) => s.firstReconcileMs);
  const bunEmpty = median(emptyMs.bun);
  const name = (rt: Runtime) => rt === "bun" ? "Bun (compiled)" : "Deno";
  const body = [
    `The operator (\`${commandOf("bun")}\`, \`${
      commandOf("deno")
    }\`; \`--leader-elect=false\`, all namespaces,`,
    `ServiceAccount of deploy/rbac.yaml, LOG_LEVEL=debug for the ${n}-DataFlow starts so each reconcile logs a line with its`,
    `timestamp; info for the empty starts). Caches synced = the controller's "starting 1 workers" line (logged once every`,
    `informer has synced); /readyz 200 = its first 200 polled every 10 ms (2 ms for the empty start; with work queued the`,
    `operator answers the probe between reconciles, so it can come later). Times are from Date.now() just before spawning.`,
    "",
    `### With ${n} existing DataFlows (+ their ConfigMaps and Deployments), ${ctx.sizes.runs} runs, medians`,
    "",
    `| Runtime | Caches synced (ms) | First reconcile (ms) | All ${n} reconciled (ms) | /readyz 200 (ms) | Writes during the start |`,
    `|---|---|---|---|---|---|`,
    ...runtimes.map((rt) =>
      `| ${name(rt)} | ${med(rt, (s) => s.syncedMs)} | ${med(rt, (s) => s.firstReconcileMs)} (${
        range(loaded[rt].map((s) => s.firstReconcileMs), 0)
      }) | ${med(rt, (s) => s.allReconciledMs)} | ${med(rt, (s) => s.readyMs)} | ${
        loaded[rt].map((s) => s.writes).join(", ")
      } |`
    ),
    "",
    `- Target first reconcile < 3 s (Bun): **${bunFirst < 3000 ? "met" : "not met"}** (${
      fmt(bunFirst / 1000, 2)
    } s).`,
    `- Requests during the start (last Bun run, at the API server): ${
      formatCounts(loaded.bun.at(-1)!.requests)
    }.`,
    `- When each informer's initial list was in (ms after spawn, last run): ${
      runtimes.map((rt) =>
        `${name(rt)}: ${Object.entries(loaded[rt].at(-1)!.listed).map(([k, v]) => `${k} ${v}`).join(", ")}`
      ).join("; ")
    }.`,
    "",
    `### With no DataFlows, ${EMPTY_RUNS} runs (after one untimed warm-up start), medians`,
    "",
    `| Runtime | Process start to ready (ms) | Range (ms) |`,
    `|---|---|---|`,
    ...runtimes.map((rt) => `| ${name(rt)} | ${median(emptyMs[rt])} | ${range(emptyMs[rt], 0)} |`),
    "",
    `- Target < 200 ms for the compiled binary: **${bunEmpty < 200 ? "met" : "not met"}** (${bunEmpty} ms).`,
  ];
  writeResults({
    summary: [
      {
        figure: `4. Start-up with ${n} DataFlows: start to synced caches and first reconcile (Bun; Deno)`,
        target: "< 3 s",
        value: `${fmt(bunFirst / 1000, 2)} s; ${fmt(med("deno", (s) => s.firstReconcileMs) / 1000, 2)} s`,
        met: bunFirst < 3000,
      },
      {
        figure: "4. Start-up with none: start to /readyz 200, compiled binary (Deno run for comparison)",
        target: "< 200 ms",
        value: `${bunEmpty} ms (Deno ${median(emptyMs.deno)} ms)`,
        met: bunEmpty < 200,
      },
    ],
    name: "startup",
    title: "Benchmark 4: start-up",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: { n, emptyMs, loaded },
  });
}
