/**
 * Benchmark 4, start-up (issue 12, goal 3), on the compiled Bun binary (Deno for comparison):
 * (1) With 10,000 existing (converged) DataFlows, a restart: process start to synced caches (the
 * controller's "starting N workers" line), to /readyz 200 (target <= 1 s: readiness means caches
 * synced, and the probe is answered while the first pass of 10,000 reconciles runs; its slowest
 * answer during that pass is reported), to the first reconcile (the operator's debug line
 * "reconciled <key>", by its timestamp; target < 3 s), to the last of the 10,000, and the writes
 * the start made (should be 0); when each informer's initial list was in.
 * (2) With no DataFlows: process start to ready (/readyz 200; target < 200 ms) and the resident
 * memory 1.5 s after ready (target <= 42 MiB), with what it is made of (lib/memory-parts.ts:
 * smaller programs built the same way, and JavaScriptCore's heap statistics inside the operator),
 * and once more with the executable read back from disk instead of as the build wrote it.
 * (3) With one DataFlow waiting (no finalizer yet): process start to the API server receiving the
 * first write, the DataFlow's finalizer PATCH (the audit log's requestReceivedTimestamp), median
 * of 11 (target <= 72 ms), and where the time went, from the audit log's timestamps of the
 * operator's requests.
 * "Process start" is Date.now() just before spawning (the guard shell's fork + exec included).
 */
import { streamingListTime } from "./lib/streaming-list.ts";
import { execFileSync } from "node:child_process";
import { Buffer } from "node:buffer";
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import process from "node:process";
import {
  byVerbResource,
  diffRequests,
  formatCounts,
  operatorWrites,
  snapshotRequests,
} from "./lib/apiserver.ts";
import type { BenchContext, Cluster } from "./lib/context.ts";
import type { KubeClient } from "../lib/kube/client.ts";
import { isNotFound } from "../lib/kube/errors.ts";
import { builtin, type ResourceType } from "../lib/kube/resources.ts";
import { configMapName, DataFlowType, deploymentName, OWNED_SELECTOR } from "../lib/dataflow/names.ts";
import { machineInfo } from "./lib/machine.ts";
import { compileHeapProbe, type HeapStats, heapStatsIn, measureParts, PARTS } from "./lib/memory-parts.ts";
import { BUN_BINARY, BUN_BUILD, commandOf, type Runtime, startOperator } from "./lib/operator.ts";
import { loggedAt, logLines, readyAt } from "./lib/probe.ts";
import { type Memory, memoryOf } from "./lib/proc.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, mib, range, sleep } from "./lib/stats.ts";
import { benchDataFlow } from "./lib/writer.ts";

/** Runs of the (short) empty start-up. */
const EMPTY_RUNS = 7;
/** Runs of the first-write measurement (the issue's median of 11). */
const FIRST_WRITE_RUNS = 11;
/** Targets of issue 12, goal 3. */
const TARGET_RSS_MIB = 42;
const TARGET_FIRST_WRITE_MS = 72;
const TARGET_RESTART_READY_MS = 1000;
/** How long after ready the idle memory is read. */
const SETTLE_MS = 1500;

interface LoadedSample {
  /** The controller's "starting N workers" line: logged once every informer synced. */
  syncedMs: number;
  /** First 200 of /readyz, as a probe sees it (answered between reconciles, so it can come later). */
  readyMs: number;
  firstReconcileMs: number;
  allReconciledMs: number;
  /** The slowest /healthz answer while the first pass ran (polled every 20 ms). */
  probeMaxMs: number;
  writes: number;
  requests: Record<string, number>;
  /** ms after spawn of each informer's "listed N objects" line. */
  listed: Record<string, number>;
}

interface EmptySample {
  readyMs: number;
  /** 1.5 s after ready. */
  memory: Memory;
}

/** One start with a DataFlow waiting: ms after spawn, from the audit log unless noted. */
interface FirstWriteSample {
  firstWriteMs: number;
  /** GET /version received: process start, module load, configuration, the first TLS connection. */
  versionMs: number;
  /** The last start-up check request answered (SelfSubjectReview, CRD, SelfSubjectAccessReviews). */
  checkedMs: number;
  /** The first watch received (the informers started). */
  firstWatchMs: number;
  /** The operator's "starting N workers" line (caches synced). */
  syncedMs: number;
  /** The finalizer PATCH as the operator's debug line saw it answered. */
  loggedWriteMs: number;
}

const RECONCILED = /^reconciled \S+$/;

/** Polls GET <health>/healthz every `everyMs` until `done` resolves; resolves with the slowest answer in ms. */
async function slowestProbe(healthUrl: string, done: Promise<unknown>, everyMs = 20): Promise<number> {
  let finished = false;
  done.finally(() => finished = true).catch(() => {});
  let slowest = 0;
  while (!finished) {
    const t0 = performance.now();
    await fetch(`${healthUrl}/healthz`).then((r) => r.body?.cancel(), () => {});
    slowest = Math.max(slowest, performance.now() - t0);
    await sleep(everyMs);
  }
  return Math.round(slowest);
}

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
    const allDone = loggedAt(op, RECONCILED, n, 600_000);
    const probeMaxMs = await slowestProbe(op.healthUrl, allDone);
    const all = await allDone;
    const synced = await loggedAt(op, /^starting \d+ workers of controller/, 1);
    const first = await loggedAt(op, RECONCILED, 1);
    await sleep(2000);
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
      probeMaxMs,
      writes: operatorWrites(delta),
      requests: byVerbResource(delta),
      listed,
    };
  } finally {
    await op.stop();
  }
}

/**
 * The API server alone: the operator's three streaming lists (a watch with sendInitialEvents each,
 * at once, as its informers ask) to a client that only counts bytes; ms until each kind's
 * initial-events-end bookmark.
 */
async function apiServerStreams(admin: KubeClient): Promise<Record<string, number>> {
  const kinds: [string, ResourceType, string?][] = [
    ["dataflows", DataFlowType],
    ["owned-configmaps", builtin.ConfigMap, OWNED_SELECTOR],
    ["owned-deployments", builtin.Deployment, OWNED_SELECTOR],
  ];
  const out: Record<string, number> = {};
  const t0 = performance.now();
  await Promise.all(kinds.map(async ([name, rt, labelSelector]) => {
    const { ms } = await streamingListTime(admin, rt, { labelSelector, timeoutMs: 120_000, t0 });
    out[name] = Math.round(ms);
  }));
  return out;
}

/** One start with no DataFlows: ready, then the memory 1.5 s later. */
async function emptyStart(runtime: Runtime, kubeconfig: string): Promise<EmptySample> {
  const { op, pid, spawnedAt } = await startOperator({ runtime, kubeconfig });
  try {
    const readyMs = (await readyAt(op, 2)) - spawnedAt;
    await sleep(SETTLE_MS);
    return { readyMs, memory: memoryOf(pid) };
  } finally {
    await op.stop();
  }
}

/** Drops the executable from the page cache (GNU dd's nocache), so the next start reads it from disk. */
function dropFromPageCache(path: string): void {
  execFileSync("dd", [`if=${path}`, "iflag=nocache", "count=0", "status=none"]);
}

/** The audit log's events of the operator's ServiceAccount from byte `offset` on. */
function auditEvents(path: string, offset: number): Record<string, unknown>[] {
  const fd = openSync(path, "r");
  let text: string;
  try {
    const bytes = Buffer.alloc(fstatSync(fd).size - offset);
    readSync(fd, bytes, 0, bytes.length, offset);
    text = bytes.toString("utf8");
  } finally {
    closeSync(fd);
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line still being written
    }
  }
  return out;
}

type AuditEvent = {
  verb?: string;
  requestURI?: string;
  stage?: string;
  objectRef?: { resource?: string; name?: string };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
};

/**
 * One start with `name` waiting in `ns`; the DataFlow is created before and removed after. `binary`:
 * another Bun build to start instead of the working tree's (the `--baseline-binary` comparison).
 */
async function firstWriteStart(
  cluster: Cluster,
  ns: string,
  name: string,
  binary?: string,
): Promise<FirstWriteSample> {
  const { admin } = cluster;
  await admin.create(DataFlowType, benchDataFlow(name, ns), { namespace: ns });
  await sleep(300); // in the API server's watch cache before the operator starts
  const audit = cluster.cp.info.auditLogPath;
  const offset = statSync(audit).size;
  const { op, spawnedAt } = await startOperator({
    runtime: "bun",
    binary,
    kubeconfig: cluster.identity.kubeconfigPath,
    env: { LOG_LEVEL: "debug" },
  });
  try {
    const isFinalizer = (e: AuditEvent) =>
      e.verb === "patch" && e.objectRef?.resource === "dataflows" && e.objectRef?.name === name;
    // The audit log is read once the operator logged the PATCH's answer: nothing of the benchmark
    // runs on the machine's two cores while the operator starts.
    const logged = await loggedAt(op, new RegExp(`^API write PATCH \\S+/dataflows/${name} `), 1, 20_000);
    const deadline = Date.now() + 5_000;
    let events: AuditEvent[] = [];
    while (!(events = auditEvents(audit, offset) as AuditEvent[]).some(isFinalizer)) {
      if (Date.now() > deadline) throw new Error(`no finalizer PATCH in the audit log:\n${op.tail()}`);
      await sleep(50);
    }
    const at = (s?: string) => Date.parse(s ?? "") - spawnedAt;
    const received = (e: AuditEvent) => at(e.requestReceivedTimestamp);
    const checks = events.filter((e) =>
      /selfsubjectreviews|selfsubjectaccessreviews|^\/apis\/dataflow\.dataflow\.io\/v1$/.test(
        e.requestURI ?? "",
      )
    );
    const synced = await loggedAt(op, /^starting \d+ workers of controller/, 1);
    return {
      firstWriteMs: received(events.find(isFinalizer)!),
      versionMs: received(events.find((e) => e.requestURI === "/version")!),
      checkedMs: Math.max(...checks.map((e) => at(e.stageTimestamp))),
      firstWatchMs: Math.min(...events.filter((e) => e.verb === "watch").map(received)),
      syncedMs: synced - spawnedAt,
      loggedWriteMs: logged - spawnedAt,
    };
  } finally {
    await op.stop();
    await removeDataFlow(admin, ns, name);
  }
}

/** Deletes a DataFlow (finalizer removed first) and what the operator made for it; waits until it is gone. */
async function removeDataFlow(admin: KubeClient, ns: string, name: string): Promise<void> {
  const quiet = (err: unknown) => {
    if (!isNotFound(err)) throw err;
  };
  await admin.patch(DataFlowType, name, { metadata: { finalizers: null } }, { namespace: ns, type: "merge" })
    .catch(quiet);
  await admin.delete(DataFlowType, name, { namespace: ns }).catch(quiet);
  await admin.delete(builtin.ConfigMap, configMapName(name), { namespace: ns }).catch(quiet);
  await admin.delete(builtin.Deployment, deploymentName(name), { namespace: ns }).catch(quiet);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    if (await admin.get(DataFlowType, name, { namespace: ns }).then(() => false, () => true)) return;
  }
  throw new Error(`DataFlow ${ns}/${name} still there 30 s after its deletion`);
}

/** Medians of memory samples, in MiB with one decimal. */
function memoryRow(samples: Memory[]): { rss: string; anon: string; file: string; range: string } {
  const m = (f: (s: Memory) => number) => mib(median(samples.map(f)));
  return {
    rss: m((s) => s.rss),
    anon: m((s) => s.anon),
    file: m((s) => s.file),
    range: range(samples.map((s) => s.rss / 2 ** 20), 1),
  };
}

/** Runs the start-up benchmark and writes bench/results/startup.md. */
export async function startup(ctx: BenchContext): Promise<void> {
  const runtimes: Runtime[] = ["bun", "deno"];
  const empty = await ctx.cluster("empty");
  const kubeconfig = empty.identity.kubeconfigPath;
  const machine = await machineInfo(empty.admin);

  // (2) No DataFlows: ready and the idle memory.
  const emptyRuns: Record<string, EmptySample[]> = { bun: [], deno: [] };
  for (const rt of runtimes) {
    // One untimed start first: Deno's module cache, the page cache of the binary.
    await emptyStart(rt, kubeconfig);
    for (let run = 0; run < EMPTY_RUNS; run++) emptyRuns[rt].push(await emptyStart(rt, kubeconfig));
    console.log(
      `  ${rt} empty: ready in ${emptyRuns[rt].map((s) => s.readyMs).join(", ")} ms, RSS ${
        emptyRuns[rt].map((s) => mib(s.memory.rss)).join(", ")
      } MiB`,
    );
  }
  // The same binary read back from disk (as a node that did not just write it runs it).
  const fromDisk: EmptySample[] = [];
  for (let run = 0; run < ctx.sizes.runs; run++) {
    dropFromPageCache(BUN_BINARY);
    fromDisk.push(await emptyStart("bun", kubeconfig));
  }
  const parts = await measureParts({
    kubeconfig,
    server: empty.cp.info.server,
    caPath: empty.cp.info.caPath,
    token: empty.identity.token!,
  }, ctx.sizes.runs);
  let heap: HeapStats | undefined;
  {
    const { op, pid } = await startOperator({ runtime: "bun", binary: await compileHeapProbe(), kubeconfig });
    try {
      await readyAt(op, 2);
      await sleep(SETTLE_MS);
      process.kill(pid, "SIGUSR2");
      await op.waitForLine(/^HEAPSTATS /, 10_000);
      heap = heapStatsIn(op.lines);
    } finally {
      await op.stop();
    }
  }
  console.log(`  parts: ${Object.entries(parts).map(([k, v]) => `${k} ${memoryRow(v).rss}`).join(", ")} MiB`);

  // (3) One DataFlow waiting.
  const waitingNs = `startup-first-write-${Date.now().toString(36)}`;
  await empty.cp.kubectlOk(["create", "namespace", waitingNs]);
  const firstWrite: FirstWriteSample[] = [];
  // `--baseline-binary=<path>`: that build's first write too, in pairs of alternating order (ABBA).
  const baseline = ctx.options["baseline-binary"];
  const baselineWrite: FirstWriteSample[] = [];
  const firstWriteRuns = ctx.sizes.small ? 3 : FIRST_WRITE_RUNS;
  try {
    for (let run = 0; run < firstWriteRuns; run++) {
      const current = () => firstWriteStart(empty, waitingNs, "waiting");
      if (!baseline) {
        firstWrite.push(await current());
      } else if (run % 2 === 0) {
        firstWrite.push(await current());
        baselineWrite.push(await firstWriteStart(empty, waitingNs, "waiting", baseline));
      } else {
        baselineWrite.push(await firstWriteStart(empty, waitingNs, "waiting", baseline));
        firstWrite.push(await current());
      }
    }
  } finally {
    await empty.cp.kubectl(["delete", "namespace", waitingNs, "--wait=false"]);
  }
  console.log(`  first write: ${firstWrite.map((s) => s.firstWriteMs).join(", ")} ms`);
  if (baseline) {
    console.log(`  baseline first write: ${baselineWrite.map((s) => s.firstWriteMs).join(", ")} ms`);
  }

  // (1) A restart over n reconciled DataFlows.
  const scale = await ctx.scaleCluster();
  const n = ctx.sizes.scale;
  const loaded: Record<string, LoadedSample[]> = { bun: [], deno: [] };
  for (const rt of runtimes) {
    for (let run = 0; run < ctx.sizes.runs; run++) {
      const s = await loadedStart(rt, scale.cluster.identity.kubeconfigPath, n, scale.cluster.admin);
      loaded[rt].push(s);
      console.log(
        `  ${rt} ${n}: synced ${s.syncedMs} ms, ready ${s.readyMs} ms, first reconcile ${s.firstReconcileMs} ms, all ${s.allReconciledMs} ms, slowest probe ${s.probeMaxMs} ms, writes ${s.writes}`,
      );
    }
  }

  const served: Record<string, number>[] = [];
  for (let run = 0; run < ctx.sizes.runs; run++) served.push(await apiServerStreams(scale.cluster.admin));
  const servedMs = (kind: string) => median(served.map((s) => s[kind]));
  console.log(`  API server alone: ${served.map((s) => JSON.stringify(s)).join(", ")}`);

  const med = (rt: string, f: (s: LoadedSample) => number) => median(loaded[rt].map(f));
  const bunFirst = med("bun", (s) => s.firstReconcileMs);
  const bunRestartReady = med("bun", (s) => s.readyMs);
  const bunEmpty = median(emptyRuns.bun.map((s) => s.readyMs));
  const bunRss = median(emptyRuns.bun.map((s) => s.memory.rss)) / 2 ** 20;
  const fw = (f: (s: FirstWriteSample) => number) => median(firstWrite.map(f));
  const bunFirstWrite = fw((s) => s.firstWriteMs);
  const name = (rt: Runtime) => rt === "bun" ? "Bun (compiled)" : "Deno";
  const idle = memoryRow(emptyRuns.bun.map((s) => s.memory));
  const disk = memoryRow(fromDisk.map((s) => s.memory));
  const body = [
    `The operator (\`${commandOf("bun")}\`, built with \`bun ${BUN_BUILD.slice(3).join(" ")}\`; \`${
      commandOf("deno")
    }\`), \`--leader-elect=false\`, all namespaces, the ServiceAccount of deploy/rbac.yaml. Times are from`,
    `Date.now() just before spawning. LOG_LEVEL=debug where a moment inside the operator is read from its log.`,
    "",
    `### With ${n} existing DataFlows (+ their ConfigMaps and Deployments): a restart, ${ctx.sizes.runs} runs, medians`,
    "",
    `Caches synced = the controller's "starting N workers" line (logged once every informer has synced); /readyz 200 =`,
    `its first 200, polled every 10 ms (readiness means caches synced); slowest probe = the slowest /healthz answer`,
    `while the first pass of ${n} reconciles ran (polled every 20 ms).`,
    "",
    `| Runtime | Caches synced (ms) | /readyz 200 (ms) | First reconcile (ms) | All ${n} reconciled (ms) | Slowest probe (ms) | Writes during the start |`,
    `|---|---|---|---|---|---|---|`,
    ...runtimes.map((rt) =>
      `| ${name(rt)} | ${med(rt, (s) => s.syncedMs)} | ${med(rt, (s) => s.readyMs)} (${
        range(loaded[rt].map((s) => s.readyMs), 0)
      }) | ${med(rt, (s) => s.firstReconcileMs)} (${range(loaded[rt].map((s) => s.firstReconcileMs), 0)}) | ${
        med(rt, (s) => s.allReconciledMs)
      } | ${med(rt, (s) => s.probeMaxMs)} | ${loaded[rt].map((s) => s.writes).join(", ")} |`
    ),
    "",
    `- Target /readyz 200 within ${TARGET_RESTART_READY_MS} ms (Bun): **${
      bunRestartReady <= TARGET_RESTART_READY_MS ? "met" : "not met"
    }** (${bunRestartReady} ms).`,
    `- Target first reconcile < 3 s (Bun): **${bunFirst < 3000 ? "met" : "not met"}** (${
      fmt(bunFirst / 1000, 2)
    } s).`,
    `- Requests during the start (last Bun run, at the API server): ${
      formatCounts(loaded.bun.at(-1)!.requests)
    }.`,
    `- The API server alone, streaming the same three lists at once to a client that only counts bytes (${ctx.sizes.runs} runs,`,
    `  medians, ms until each initial-events-end bookmark): ${
      Object.keys(served[0]).map((k) => `${k} ${servedMs(k)}`).join(", ")
    }. The operator's caches cannot sync sooner than that; on 2 cores the server's encoding and the operator's`,
    `  parsing share the machine.`,
    `- When each informer's initial list was in (ms after spawn, last run): ${
      runtimes.map((rt) =>
        `${name(rt)}: ${Object.entries(loaded[rt].at(-1)!.listed).map(([k, v]) => `${k} ${v}`).join(", ")}`
      ).join("; ")
    }.`,
    "",
    `### With no DataFlows, ${EMPTY_RUNS} runs (after one untimed warm-up start), medians`,
    "",
    `Ready = the first 200 of /readyz, polled every 2 ms; memory = /proc/<pid>/status ${SETTLE_MS} ms after ready.`,
    "",
    `| Runtime | Process start to ready (ms) | Range (ms) | VmRSS (MiB) | RssAnon (MiB) | RssFile (MiB) |`,
    `|---|---|---|---|---|---|`,
    ...runtimes.map((rt) => {
      const m = memoryRow(emptyRuns[rt].map((s) => s.memory));
      const ready = emptyRuns[rt].map((s) => s.readyMs);
      return `| ${name(rt)} | ${median(ready)} | ${
        range(ready, 0)
      } | ${m.rss} (${m.range}) | ${m.anon} | ${m.file} |`;
    }),
    "",
    `- Target < 200 ms to ready for the compiled binary: **${
      bunEmpty < 200 ? "met" : "not met"
    }** (${bunEmpty} ms).`,
    `- Target RSS <= ${TARGET_RSS_MIB} MiB ${SETTLE_MS} ms after ready (compiled binary): **${
      bunRss <= TARGET_RSS_MIB ? "met" : "not met"
    }** (${fmt(bunRss)} MiB).`,
    "",
    `What that memory is made of (Bun, ${ctx.sizes.runs} runs each, medians; each program compiled with the operator's flags and`,
    `measured ${SETTLE_MS} ms after it was ready; parts overlap, so the differences are what each step adds to the one before):`,
    "",
    `| Program | VmRSS (MiB) | RssAnon (MiB) | RssFile (MiB) |`,
    `|---|---|---|---|`,
    ...PARTS.map((p) => {
      const m = memoryRow(parts[p.name]);
      return `| ${p.what} | ${m.rss} (${m.range}) | ${m.anon} | ${m.file} |`;
    }),
    `| the operator, idle (the table above) | ${idle.rss} (${idle.range}) | ${idle.anon} | ${idle.file} |`,
    `| the operator, idle, its executable read back from disk (dropped from the page cache first) | ${disk.rss} (${disk.range}) | ${disk.anon} | ${disk.file} |`,
    "",
    ...(heap
      ? [
        `JavaScriptCore inside the idle operator (the operator built with a heap probe, ${SETTLE_MS} ms after ready): heap ${
          mib(heap.heapSize)
        } MiB live of ${mib(heap.heapCapacity)} MiB capacity, ${
          mib(heap.extraMemorySize)
        } MiB outside the heap (strings,`,
        `buffers), ${heap.objectCount} objects; JavaScriptCore's allocator: ${
          mib(heap.memoryUsage.current)
        } MiB now, ${mib(heap.memoryUsage.peak)} MiB at its peak (process RSS ${
          mib(heap.process.rss)
        } MiB). Most frequent object types: ${heap.byType.map(([t, c]) => `${t} ${c}`).join(", ")}.`,
      ]
      : ["JavaScriptCore's heap statistics: not available (the probe printed none)."]),
    "",
    `### With one DataFlow waiting (no finalizer yet), ${firstWrite.length} runs, medians`,
    "",
    `First write = the API server receiving the DataFlow's finalizer PATCH (requestReceivedTimestamp in its audit log);`,
    `the phases come from the same log's timestamps of the operator's requests, and from its own debug lines.`,
    "",
    `| Phase (ms after spawn) | Median | Range |${baseline ? " Baseline median | Baseline range |" : ""}`,
    `|---|---|---|${baseline ? "---|---|" : ""}`,
    ...([
      [
        "GET /version received (process start, module load, configuration, TLS connection)",
        (s) => s.versionMs,
      ],
      ["start-up check answered (credentials, CRD, permissions)", (s) => s.checkedMs],
      ["first watch received (informers started)", (s) => s.firstWatchMs],
      ['caches synced (the operator\'s "starting N workers" line)', (s) => s.syncedMs],
      ["**finalizer PATCH received (the first write)**", (s) => s.firstWriteMs],
      ["finalizer PATCH answered (the operator's debug line)", (s) => s.loggedWriteMs],
    ] as [string, (s: FirstWriteSample) => number][]).map(([label, f]) =>
      `| ${label} | ${fw(f)} | ${range(firstWrite.map(f), 0)} |${
        baseline ? ` ${median(baselineWrite.map(f))} | ${range(baselineWrite.map(f), 0)} |` : ""
      }`
    ),
    ...(baseline
      ? [
        "",
        `Baseline: \`${baseline}\`, started right before or after each run of the current build (the order`,
        `alternating). Paired ratios current / baseline of the first write: ${
          firstWrite.map((s, i) => fmt(s.firstWriteMs / baselineWrite[i].firstWriteMs, 2)).join(", ")
        } (median ${
          fmt(median(firstWrite.map((s, i) => s.firstWriteMs / baselineWrite[i].firstWriteMs)), 2)
        }).`,
      ]
      : []),
    "",
    `- Target <= ${TARGET_FIRST_WRITE_MS} ms from process start to the first write: **${
      bunFirstWrite <= TARGET_FIRST_WRITE_MS ? "met" : "not met"
    }** (${bunFirstWrite} ms).`,
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
        figure:
          `4. Restart over ${n} reconciled DataFlows: start to /readyz 200 (caches synced), compiled binary`,
        target: `<= ${TARGET_RESTART_READY_MS} ms`,
        value: `${bunRestartReady} ms (caches synced at ${med("bun", (s) => s.syncedMs)} ms)`,
        met: bunRestartReady <= TARGET_RESTART_READY_MS,
      },
      {
        figure: "4. Start-up with none: start to /readyz 200, compiled binary (Deno run for comparison)",
        target: "< 200 ms",
        value: `${bunEmpty} ms (Deno ${median(emptyRuns.deno.map((s) => s.readyMs))} ms)`,
        met: bunEmpty < 200,
      },
      {
        figure: `4. Idle with none: VmRSS ${
          SETTLE_MS / 1000
        } s after ready, compiled binary (read back from disk)`,
        target: `<= ${TARGET_RSS_MIB} MiB`,
        value: `${fmt(bunRss)} MiB (${disk.rss} MiB)`,
        met: bunRss <= TARGET_RSS_MIB,
      },
      {
        figure: "4. One DataFlow waiting: start to the first write received, compiled binary (median of 11)",
        target: `<= ${TARGET_FIRST_WRITE_MS} ms`,
        value: `${bunFirstWrite} ms`,
        met: bunFirstWrite <= TARGET_FIRST_WRITE_MS,
      },
    ],
    name: "startup",
    title: "Benchmark 4: start-up",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: { n, emptyRuns, fromDisk, parts, heap, firstWrite, baseline, baselineWrite, loaded, served },
  });
}
