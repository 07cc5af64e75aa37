/**
 * Benchmark 1, throughput: create N (1,000) DataFlows, 16 creates in flight, and time until every
 * one has its ConfigMap, its Deployment and status.observedGeneration == generation (seen through
 * watches). In the same run, the floor: a minimal script making the same writes as fast as the
 * API server takes them (writer.ts, same concurrency). Each run measures the floor, then the operator
 * with its default worker count, with 1 and with 16 workers, each in a fresh namespace with a fresh
 * operator process (`--namespace` scoped). Writes are counted at
 * the API server. Targets: operator time <= 1.5 x floor; <= 6 API writes per new DataFlow.
 */
import { cpus } from "node:os";
import process from "node:process";
import { freshNamespace } from "../tests/controlplane/env.ts";
import { cpuSeconds, findPid } from "./lib/proc.ts";
import {
  byVerbResource,
  diffRequests,
  formatCounts,
  operatorWrites,
  otherWrites,
  type RequestCounts,
  snapshotRequests,
  subtract,
} from "./lib/apiserver.ts";
import type { BenchContext } from "./lib/context.ts";
import { ConvergenceWatch } from "./lib/converge.ts";
import { machineInfo } from "./lib/machine.ts";
import { commandOf, metricSum, type Runtime, startOperator } from "./lib/operator.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, sleep } from "./lib/stats.ts";
import { createDataFlows, floorWrites, names } from "./lib/writer.ts";
import type { KubeClient } from "../lib/kube/client.ts";
import { EventLatencyWatch, percentile } from "./events/latency.ts";

const CONCURRENCY = 16;

interface Measured {
  seconds: number;
  /** CPU seconds used from the first create until convergence, per process. */
  cpu: Record<string, number>;
  /** Requests from the first create until convergence. */
  window: RequestCounts;
  /** Requests from the first create until everything was written (for the operator: until it exited). */
  delta: RequestCounts;
}

/** CPU seconds so far of each process, plus this benchmark process ("bench"). */
function cpuOf(pids: Record<string, number>): Record<string, number> {
  const u = process.cpuUsage();
  const out: Record<string, number> = { bench: (u.user + u.system) / 1e6 };
  for (const [k, pid] of Object.entries(pids)) out[k] = cpuSeconds(pid);
  return out;
}

/** "apiserver 1.2 s, etcd 0.3 s, ..." with the share of the machine's capacity over `seconds`. */
function formatCpu(cpu: Record<string, number>, seconds: number): string {
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  const parts = Object.entries(cpu).map(([k, v]) => `${k} ${fmt(v, 1)} s`).join(", ");
  return `${parts}; together ${fmt(total / (cpus().length * seconds) * 100, 0)} % of ${cpus().length} cores`;
}

/** Waits until the operator's resources see no new writes for 2 s (events are written asynchronously). */
async function settle(admin: KubeClient, maxMs = 60_000): Promise<RequestCounts> {
  let last = await snapshotRequests(admin);
  let quiet = 0;
  const deadline = Date.now() + maxMs;
  while (quiet < 2 && Date.now() < deadline) {
    await sleep(1000);
    const now = await snapshotRequests(admin);
    quiet = operatorWrites(diffRequests(last, now)) === 0 ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

/**
 * Times `work` (which writes into `ns`) until all `dfNames` converged; counts the requests until
 * then (`window`) and, after `finish` (waiting for the operator's events, then stopping it), until
 * the writes stop (`delta`).
 */
async function measure(
  admin: KubeClient,
  ns: string,
  dfNames: string[],
  work: () => Promise<void>,
  pids: Record<string, number>,
  finish?: () => Promise<void>,
): Promise<Measured> {
  const watch = new ConvergenceWatch(admin, ns);
  await watch.start();
  try {
    const before = await snapshotRequests(admin);
    const cpu0 = cpuOf(pids);
    const t0 = performance.now();
    const [, tEnd] = await Promise.all([work(), watch.waitAll(dfNames, 30 * 60_000)]);
    const seconds = (tEnd - t0) / 1000;
    const cpu1 = cpuOf(pids);
    const cpu = Object.fromEntries(Object.keys(cpu1).map((k) => [k, cpu1[k] - cpu0[k]]));
    const converged = await snapshotRequests(admin);
    await finish?.();
    const after = await settle(admin);
    return { seconds, cpu, window: diffRequests(before, converged), delta: diffRequests(before, after) };
  } finally {
    watch.stop();
  }
}

/** What the Event watch saw of one operator run. */
interface EventLatency {
  /** Seconds from emission to seen on the server, per Event (its first occurrence). */
  p50: number;
  p99: number;
  max: number;
  /** Events seen, the occurrences they carry, and how many were later than 10 s. */
  events: number;
  occurrences: number;
  over10s: number;
  /** Whether every emitted occurrence was seen before the operator was stopped. */
  complete: boolean;
  /** Seconds from convergence until every emitted occurrence was seen (0 when already at convergence). */
  afterConvergence: number;
}

interface OperatorProfile {
  /** Events the reconciler emitted, and those still waiting for an API write at convergence. */
  eventsEmitted: number;
  eventsPending: number;
  reconciles: Record<string, number>;
  reconcileSeconds: number;
  requests: Record<string, number>;
  requestSeconds: Record<string, number>;
}

function profileOf(before: string, after: string): OperatorProfile {
  const d = (name: string, labels: Record<string, string>) =>
    metricSum(after, name, labels) - metricSum(before, name, labels);
  const reconciles: Record<string, number> = {};
  for (const result of ["success", "error", "requeue_after"]) {
    reconciles[result] = d("controller_runtime_reconcile_total", { controller: "dataflow", result });
  }
  const requests: Record<string, number> = {};
  const requestSeconds: Record<string, number> = {};
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
    requests[method] = d("rest_client_requests_total", { method });
    const count = d("rest_client_request_duration_seconds_count", { verb: method });
    if (count) {
      requestSeconds[method] = d("rest_client_request_duration_seconds_sum", { verb: method }) / count;
    }
  }
  return {
    eventsEmitted: d("events_emitted_total", {}),
    eventsPending: metricSum(after, "events_queue_depth"),
    reconciles,
    reconcileSeconds: d("controller_runtime_reconcile_time_seconds_sum", { controller: "dataflow" }),
    requests,
    requestSeconds,
  };
}

/** An operator configuration measured in every run: the shipped default and fixed worker counts. */
interface Variant {
  label: string;
  args: string[];
  /** Another Bun-compiled operator (`--baseline-binary=<path>`: the build compared against). */
  binary?: string;
}

const VARIANTS: Variant[] = [
  { label: "default", args: [] },
  { label: "1 worker", args: ["--max-concurrent-reconciles=1"] },
  { label: "16 workers", args: ["--max-concurrent-reconciles=16"] },
];

interface OperatorRun {
  measured: Measured;
  profile: OperatorProfile;
  namespace: string;
  /** The operator's controller_runtime_max_concurrent_reconciles. */
  workers: number;
  /** Emission -> on the server, per Event, seen by a watch. */
  events: EventLatency;
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
const latencies = (p: OperatorProfile) =>
  Object.entries(p.requestSeconds).map(([k, v]) => `${k} ${fmt(v * 1000, 1)} ms`).join(", ");

/** Runs the throughput benchmark and writes bench/results/throughput.md. */
export async function throughput(ctx: BenchContext, runtime: Runtime = "bun"): Promise<void> {
  const { cp, admin, identity } = await ctx.cluster("main");
  const machine = await machineInfo(admin);
  const n = ctx.sizes.throughput;
  const dfNames = names("df", n);
  const apiserver = findPid(`--etcd-servers=${cp.info.etcdUrl}`);
  const etcd = findPid(cp.info.etcdUrl);
  if (!apiserver || !etcd) throw new Error("cannot find the kube-apiserver and etcd processes");
  const serverPids = { "kube-apiserver": apiserver, etcd };
  // Warm-up (not timed): the first writes of a kind after the CRD was installed are slower.
  const warm = await freshNamespace(cp, "tp-warm");
  await floorWrites(admin, warm, names("warm", 50), CONCURRENCY);

  // `--baseline-binary=<path>`: also run that build with its defaults, right after the default one
  // in every run (same machine load), to compare convergence before and after a change.
  const baseline = ctx.options["baseline-binary"];
  const variants: Variant[] = baseline
    ? [...VARIANTS, { label: "default, baseline build", args: [], binary: baseline }]
    : VARIANTS;
  // The baseline runs next to the default configuration, before it in every other run, so that a
  // drift (the cluster grows by 1,000 DataFlows per configuration) does not favour either.
  const runOrder = (run: number) => baseline ? (run % 2 ? [3, 0, 1, 2] : [0, 3, 1, 2]) : [0, 1, 2];
  const operatorRun = async (variant: Variant): Promise<OperatorRun> => {
    const ns = await freshNamespace(cp, "tp-op");
    const { op, pid } = await startOperator({
      runtime,
      binary: variant.binary,
      kubeconfig: identity.kubeconfigPath,
      args: [`--namespace=${ns}`, ...variant.args],
    });
    try {
      await op.waitHealthy("/readyz");
      const opBefore = await op.metrics();
      let opAfter = "";
      const eventWatch = new EventLatencyWatch(admin, ns);
      await eventWatch.start();
      let eventLatency: EventLatency | undefined;
      const measured = await measure(
        admin,
        ns,
        dfNames,
        () => createDataFlows(admin, ns, dfNames, CONCURRENCY),
        { ...serverPids, operator: pid },
        async () => {
          opAfter = await op.metrics();
          // Events go out on the steady-state path, not in the shutdown flush: wait (at most 2
          // minutes) until every emitted occurrence is on the server before stopping the operator.
          // The baseline build is stopped at convergence, as before (only its convergence is compared).
          const emitted = metricSum(opAfter, "events_emitted_total") -
            metricSum(opBefore, "events_emitted_total");
          const t0 = performance.now();
          const complete = await eventWatch.waitFor(emitted, variant.binary ? 0 : 120_000);
          const afterConvergence = (performance.now() - t0) / 1000;
          const lat = [...eventWatch.latencyMs.values()];
          eventLatency = {
            p50: percentile(lat, 50) / 1000,
            p99: percentile(lat, 99) / 1000,
            max: Math.max(...lat) / 1000,
            events: lat.length,
            occurrences: eventWatch.occurrences,
            over10s: lat.filter((l) => l > 10_000).length,
            complete,
            afterConvergence,
          };
          const code = await op.stop("SIGTERM");
          if (code !== 0) console.log(`  operator exited ${code}:\n${op.tail(10)}`);
        },
      ).finally(() => eventWatch.stop());
      const workers = metricSum(opBefore, "controller_runtime_max_concurrent_reconciles", {
        controller: "dataflow",
      });
      return {
        measured,
        profile: profileOf(opBefore, opAfter),
        namespace: ns,
        workers,
        events: eventLatency!,
      };
    } finally {
      if (op.running) await op.stop("SIGTERM");
    }
  };

  const runs: { floor: Measured; ops: OperatorRun[] }[] = [];
  for (let run = 0; run < ctx.sizes.runs; run++) {
    const floorNs = await freshNamespace(cp, "tp-floor");
    const floor = await measure(
      admin,
      floorNs,
      dfNames,
      () => floorWrites(admin, floorNs, dfNames, CONCURRENCY),
      serverPids,
    );
    const ops: OperatorRun[] = [];
    for (const i of runOrder(run)) ops[i] = await operatorRun(variants[i]);
    runs.push({ floor, ops });
    console.log(
      `  run ${run + 1}: floor ${fmt(floor.seconds, 2)} s; ${
        variants.map((v, i) =>
          `${v.label} ${fmt(ops[i].measured.seconds, 2)} s (${
            fmt(ops[i].measured.seconds / floor.seconds, 2)
          } x)`
        ).join(", ")
      }`,
    );
  }
  ctx.reconciled = { namespace: runs.at(-1)!.ops[0].namespace, count: n };

  const own = { "POST dataflows": n };
  const perDf = (m: Measured) => subtract(byVerbResource(m.delta, { writesOnly: true }), own);
  const writesPer = (m: Measured) => (operatorWrites(m.delta) - n) / n;
  const ratio = (r: { floor: Measured; ops: OperatorRun[] }, v: number) =>
    r.ops[v].measured.seconds / r.floor.seconds;
  const medRatio = (v: number) => median(runs.map((r) => ratio(r, v)));
  const medSeconds = (v: number) => median(runs.map((r) => r.ops[v].measured.seconds));
  const medFloor = median(runs.map((r) => r.floor.seconds));
  const medWrites = median(runs.map((r) => writesPer(r.ops[0].measured)));
  const defaultWorkers = runs[0].ops[0].workers;
  const last = runs.at(-1)!;
  const lastDefault = last.ops[0];
  const reconcilesOf = (o: OperatorRun) => total(o.profile.reconciles);
  const eventWrites = (o: OperatorRun) => {
    const w = byVerbResource(o.measured.delta, { writesOnly: true });
    return (w["POST events"] ?? 0) + (w["PATCH events"] ?? 0);
  };
  const eventWritesPerSeries = (o: OperatorRun) => eventWrites(o) / o.events.events;
  const medEventP99 = median(runs.map((r) => r.ops[0].events.p99));
  const maxEventWrites = Math.max(
    ...runs.flatMap((r) => r.ops.slice(0, VARIANTS.length).map(eventWritesPerSeries)),
  );
  const baselineRatio = baseline
    ? median(runs.map((r) => r.ops[0].measured.seconds / r.ops[3].measured.seconds))
    : NaN;
  const body = [
    `Operator: \`${
      commandOf(runtime)
    }\` \`--leader-elect=false --namespace=<fresh namespace>\` with the ServiceAccount of`,
    `deploy/rbac.yaml, in three configurations per run: its default (${defaultWorkers} reconcile workers, read from its`,
    `controller_runtime_max_concurrent_reconciles), \`--max-concurrent-reconciles=1\` (the Go operator's setting) and \`=16\`.`,
    `DataFlows are created by the benchmark ${CONCURRENCY} at a time in every case; the clock runs from the first create`,
    `until the last DataFlow has its ConfigMap, Deployment and observedGeneration == generation, as seen by watches.`,
    `${ctx.sizes.runs} runs of floor + the three configurations in the same control plane; figures are medians.`,
    ...(baseline
      ? [
        `In every run the baseline build \`${baseline}\` (its defaults) ran next to the default configuration (after it in`,
        `runs 1 and 3, before it in run 2), in a namespace of its own, for the convergence comparison below.`,
      ]
      : []),
    "",
    `| Run | Floor (s) | ${
      variants.map((v) => `${v.label} (s) | ratio`).join(" | ")
    } | Writes per new DataFlow (default) |`,
    `|---|---|${variants.map(() => "---|---|").join("")}---|`,
    ...runs.map((r, i) =>
      `| ${i + 1} | ${fmt(r.floor.seconds, 2)} | ${
        variants.map((_, v) => `${fmt(r.ops[v].measured.seconds, 2)} | ${fmt(ratio(r, v), 2)}`).join(" | ")
      } | ${fmt(writesPer(r.ops[0].measured), 3)} |`
    ),
    `| **median** | **${fmt(medFloor, 2)}** | ${
      variants.map((_, v) => `**${fmt(medSeconds(v), 2)}** | **${fmt(medRatio(v), 2)}**`).join(" | ")
    } | **${fmt(medWrites, 3)}** |`,
    "",
    ...(baseline
      ? [
        `- Convergence of the default configuration vs the baseline build (same runs, next to each other): per-run`,
        `  ratios ${
          runs.map((r) => fmt(r.ops[0].measured.seconds / r.ops[3].measured.seconds, 3)).join(", ")
        }; median ${fmt(baselineRatio, 3)} (target <= 1.05: **${
          baselineRatio <= 1.05 ? "met" : "not met"
        }**).`,
      ]
      : []),
    `- Throughput (default): operator ${fmt(n / medSeconds(0), 0)} DataFlows/s, floor ${
      fmt(n / medFloor, 0)
    } DataFlows/s.`,
    `- Target operator <= 1.5 x floor (default configuration): **${
      medRatio(0) <= 1.5 ? "met" : "not met"
    }** (median ratio ${fmt(medRatio(0), 2)}; 1 worker ${fmt(medRatio(1), 2)}, 16 workers ${
      fmt(medRatio(2), 2)
    }).`,
    `- Target <= 6 API writes per new DataFlow, events included: **${
      medWrites <= 6 ? "met" : "not met"
    }** (median ${fmt(medWrites, 3)}; floor ${
      fmt(median(runs.map((r) => writesPer(r.floor))), 2)
    }; the DataFlow create itself excluded in both).`,
    "",
    `### Where the requests go (last run, at the API server, per DataFlow; the benchmark's ${n} DataFlow creates excluded)`,
    "",
    ...VARIANTS.map((v, i) =>
      `- Operator (${v.label}) writes, everything until it exited: ${
        formatCounts(perDf(last.ops[i].measured), n)
      }; ` +
      `with status codes: ${
        formatCounts(
          subtract(byVerbResource(last.ops[i].measured.delta, { writesOnly: true, withCode: true }), {
            "POST dataflows 201": n,
          }),
          n,
        )
      }`
    ),
    `- Operator (default) writes until convergence only: ${
      formatCounts(subtract(byVerbResource(lastDefault.measured.window, { writesOnly: true }), own), n)
    }. It emitted ${lastDefault.profile.eventsEmitted} events; at convergence ${lastDefault.profile.eventsPending} event series`,
    `  were still waiting for their write (the recorder yields to reconciles while DataFlows wait for a worker); they went`,
    `  out ${
      fmt(lastDefault.events.afterConvergence, 1)
    } s later, before the operator was stopped, and the line above includes them.`,
    `- Operator (default) reads: ${
      formatCounts(
        Object.fromEntries(
          Object.entries(byVerbResource(lastDefault.measured.delta)).filter(([k]) => /^(GET|LIST)/.test(k)),
        ),
        n,
      )
    }`,
    `- Floor writes: ${formatCounts(perDf(last.floor), n)}`,
    `- Other writes during the default run (not the operator's: the API server's own): ${
      formatCounts(Object.fromEntries(otherWrites(lastDefault.measured.delta)))
    }`,
    "",
    "### Events: from the emitting reconcile to the server",
    "",
    "Per Event: the moment a watch on the namespace first saw it minus its `eventTime`, which the recorder sets to the",
    "moment the reconcile emitted it (same machine, same clock; the watch's own delay is included, so this is an upper",
    "bound). The operator was stopped only once every emitted occurrence had been seen (or after 2 minutes), so no",
    "Event went out in the shutdown flush. Writes per series: event POSTs and PATCHes at the API server / Events.",
    "",
    `| Run | Configuration | Events | Occurrences (emitted) | p50 (s) | p99 (s) | max (s) | > 10 s | Writes per series | Last seen after convergence (s) |`,
    "|---|---|---|---|---|---|---|---|---|---|",
    ...runs.flatMap((r, i) =>
      r.ops.slice(0, VARIANTS.length).map((o, v) =>
        `| ${i + 1} | ${
          VARIANTS[v].label
        } | ${o.events.events} | ${o.events.occurrences} (${o.profile.eventsEmitted})${
          o.events.complete ? "" : " **incomplete**"
        } | ${fmt(o.events.p50, 2)} | ${fmt(o.events.p99, 2)} | ${
          fmt(o.events.max, 2)
        } | ${o.events.over10s} | ${fmt(eventWritesPerSeries(o), 3)} | ${fmt(o.events.afterConvergence, 1)} |`
      )
    ),
    "",
    `- Target p99 <= 10 s from the emitting reconcile to the server (default configuration): **${
      medEventP99 <= 10 ? "met" : "not met"
    }** (median of the runs' p99 ${fmt(medEventP99, 2)} s; max over all runs ${
      fmt(Math.max(...runs.map((r) => r.ops[0].events.max)), 2)
    } s).`,
    `- Target <= 2 writes per event series: **${maxEventWrites <= 2 ? "met" : "not met"}** (at most ${
      fmt(maxEventWrites, 3)
    } in any run and configuration). Occurrences lost: ${
      runs.some((r) =>
          r.ops.slice(0, VARIANTS.length).some((o) =>
            !o.events.complete || o.events.occurrences !== o.profile.eventsEmitted
          )
        )
        ? "**some** (see the table)"
        : "none (every emitted occurrence is counted on the server)"
    }.`,
    "",
    `### Profile (last run: the operator's own /metrics deltas, CPU seconds from /proc from the first create to convergence)`,
    "",
    `- Floor: CPU ${formatCpu(last.floor.cpu, last.floor.seconds)}.`,
    ...VARIANTS.map((v, i) => {
      const o = last.ops[i];
      return `- ${v.label} (${o.workers} workers): ${reconcilesOf(o)} reconciles (${
        fmt(reconcilesOf(o) / n, 2)
      } per DataFlow; ${formatCounts(o.profile.reconciles)}), ${
        fmt(o.profile.reconcileSeconds, 2)
      } s inside reconciles over the ${fmt(o.measured.seconds, 2)} s run (${
        fmt(o.profile.reconcileSeconds / o.measured.seconds, 1)
      } in flight on average, ${
        fmt(o.profile.reconcileSeconds / reconcilesOf(o) * 1000, 1)
      } ms each); request latency ${latencies(o.profile)}; CPU ${
        formatCpu(o.measured.cpu, o.measured.seconds)
      }.`;
    }),
  ];
  writeResults({
    summary: [
      {
        figure: `1. Throughput, ${n} DataFlows (operator default, ${defaultWorkers} workers / floor)`,
        target: "<= 1.5 x floor",
        value: `${fmt(medSeconds(0), 1)} s / ${fmt(medFloor, 1)} s = ${fmt(medRatio(0), 2)} x`,
        met: medRatio(0) <= 1.5,
      },
      {
        figure:
          `1. Convergence stays API-bound (issue 12, goal 5): default ${defaultWorkers} workers / floor`,
        target: "<= 1.05 x floor",
        value: `${fmt(medRatio(0), 2)} x (16 workers: ${fmt(medRatio(2), 2)} x)`,
        met: medRatio(0) <= 1.05,
      },
      {
        figure: "1. API writes per new DataFlow (events included)",
        target: "<= 6",
        value: fmt(medWrites, 3),
        met: medWrites <= 6,
      },
      ...(baseline
        ? [{
          figure: "1. Convergence, default vs the baseline build (same runs)",
          target: "<= 1.05 x",
          value: `${fmt(baselineRatio, 3)} x`,
          met: baselineRatio <= 1.05,
        }]
        : []),
      {
        figure: `1. Events of ${n} new DataFlows: emitting reconcile -> on the server, p99 (default)`,
        target: "<= 10 s",
        value: `${fmt(medEventP99, 2)} s (median of runs; max ${
          fmt(Math.max(...runs.map((r) => r.ops[0].events.max)), 2)
        } s)`,
        met: medEventP99 <= 10,
      },
      {
        figure: "1. API writes per event series",
        target: "<= 2",
        value: fmt(maxEventWrites, 3),
        met: maxEventWrites <= 2,
      },
      {
        figure: "1. Throughput with --max-concurrent-reconciles=1 and =16",
        target: "informational",
        value: `${fmt(medRatio(1), 2)} x and ${fmt(medRatio(2), 2)} x floor`,
        met: null,
      },
    ],
    name: "throughput",
    title: "Benchmark 1: throughput (operator vs. floor)",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: {
      runtime,
      n,
      concurrency: CONCURRENCY,
      variants,
      runs: runs.map((r) => ({
        floorSeconds: r.floor.seconds,
        floorCpu: r.floor.cpu,
        floorRequests: Object.fromEntries(r.floor.delta),
        operators: r.ops.map((o) => ({
          workers: o.workers,
          seconds: o.measured.seconds,
          cpu: o.measured.cpu,
          requests: Object.fromEntries(o.measured.delta),
          window: Object.fromEntries(o.measured.window),
          profile: o.profile,
          events: o.events,
        })),
      })),
    },
  });
}
