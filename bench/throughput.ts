/**
 * Benchmark 1, throughput: create N (1,000) DataFlows, 16 creates in flight, and time until every
 * one has its ConfigMap, its Deployment and status.observedGeneration == generation (seen through
 * watches). In the same run, the floor: a minimal script making the same writes as fast as the
 * API server takes them (writer.ts, same concurrency). Runs alternate floor / operator, each in a
 * fresh namespace, with a fresh operator (`--namespace` scoped) per run. Writes are counted at
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
import { BENCH_WORKERS, commandOf, metricSum, type Runtime, startOperator } from "./lib/operator.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, range, sleep } from "./lib/stats.ts";
import { createDataFlows, floorWrites, names } from "./lib/writer.ts";
import type { KubeClient } from "../lib/kube/client.ts";

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
 * then (`window`) and, after `finish` (stopping the operator: its event recorder flushes what its
 * budget still held back), until the writes stop (`delta`).
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

/** Runs the throughput benchmark and writes bench/results/throughput.md. */
export async function throughput(ctx: BenchContext, runtime: Runtime = "bun"): Promise<void> {
  const { cp, admin, identity } = await ctx.cluster("main");
  const machine = await machineInfo(admin);
  const n = ctx.sizes.throughput;
  const dfNames = names("df", n);
  // Warm-up (not timed): the first writes of a kind after the CRD was installed are slower.
  const warm = await freshNamespace(cp, "tp-warm");
  await floorWrites(admin, warm, names("warm", 50), CONCURRENCY);
  const apiserver = findPid(`--etcd-servers=${cp.info.etcdUrl}`);
  const etcd = findPid(cp.info.etcdUrl);
  if (!apiserver || !etcd) throw new Error("cannot find the kube-apiserver and etcd processes");
  const serverPids = { "kube-apiserver": apiserver, etcd };
  const operatorRun = async (rt: Runtime) => {
    const ns = await freshNamespace(cp, "tp-op");
    const { op, pid } = await startOperator({
      runtime: rt,
      kubeconfig: identity.kubeconfigPath,
      args: [`--namespace=${ns}`],
    });
    try {
      await op.waitHealthy("/readyz");
      const opBefore = await op.metrics();
      let opAfter = "";
      const measured = await measure(
        admin,
        ns,
        dfNames,
        () => createDataFlows(admin, ns, dfNames, CONCURRENCY),
        { ...serverPids, operator: pid },
        async () => {
          opAfter = await op.metrics();
          const code = await op.stop("SIGTERM");
          if (code !== 0) console.log(`  operator exited ${code}:\n${op.tail(10)}`);
        },
      );
      return { measured, profile: profileOf(opBefore, opAfter), namespace: ns };
    } finally {
      if (op.running) await op.stop("SIGTERM");
    }
  };
  const runs: {
    floor: Measured;
    operator: Measured;
    profile: OperatorProfile;
    namespace: string;
    workers: Measured;
    workersProfile: OperatorProfile;
  }[] = [];
  for (let run = 0; run < ctx.sizes.runs; run++) {
    const floorNs = await freshNamespace(cp, "tp-floor");
    const floor = await measure(
      admin,
      floorNs,
      dfNames,
      () => floorWrites(admin, floorNs, dfNames, CONCURRENCY),
      serverPids,
    );
    const shipped = await operatorRun(runtime);
    const workers = await operatorRun("bun-workers");
    runs.push({
      floor,
      operator: shipped.measured,
      profile: shipped.profile,
      namespace: shipped.namespace,
      workers: workers.measured,
      workersProfile: workers.profile,
    });
    console.log(
      `  run ${run + 1}: floor ${fmt(floor.seconds, 2)} s, operator ${
        fmt(shipped.measured.seconds, 2)
      } s (ratio ${fmt(shipped.measured.seconds / floor.seconds, 2)}), ${BENCH_WORKERS} workers ${
        fmt(workers.measured.seconds, 2)
      } s (ratio ${fmt(workers.measured.seconds / floor.seconds, 2)})`,
    );
  }
  ctx.reconciled = { namespace: runs.at(-1)!.namespace, count: n };

  const own = { "POST dataflows": n };
  const perDf = (m: Measured, subtractOwn: boolean) => {
    const w = byVerbResource(m.delta, { writesOnly: true });
    return subtractOwn ? subtract(w, own) : w;
  };
  const opWrites = runs.map((r) => (operatorWrites(r.operator.delta) - n) / n);
  const floorWritesPer = runs.map((r) => (operatorWrites(r.floor.delta) - n) / n);
  const ratios = runs.map((r) => r.operator.seconds / r.floor.seconds);
  const medRatio = median(ratios);
  const workerRatios = runs.map((r) => r.workers.seconds / r.floor.seconds);
  const medWrites = median(opWrites);
  const last = runs.at(-1)!;
  const p = last.profile;
  const reconcileTotal = Object.values(p.reconciles).reduce((a, b) => a + b, 0);
  const body = [
    `Operator: \`${
      commandOf(runtime)
    }\` (1 worker, the default, as the Go operator), \`--leader-elect=false\`, scoped with`,
    `\`--namespace\` to a fresh namespace per run, with the ServiceAccount of deploy/rbac.yaml. DataFlows are created by`,
    `the benchmark ${CONCURRENCY} at a time in both cases; the clock runs from the first create until the last DataFlow has its`,
    `ConfigMap, Deployment and observedGeneration == generation, as seen by watches. ${ctx.sizes.runs} runs, floor and operator`,
    `alternating in the same control plane; figures are medians. The last two columns: the same operator wiring with`,
    `${BENCH_WORKERS} reconcile workers (\`${
      commandOf("bun-workers")
    }\`, a benchmark-only entry point: the CLI has no flag`,
    `for it), measured in the same runs to show what the worker count costs.`,
    "",
    `| Run | Floor (s) | Operator (s) | Ratio operator / floor | Operator writes per new DataFlow | ${BENCH_WORKERS} workers (s) | Ratio ${BENCH_WORKERS} workers / floor |`,
    `|---|---|---|---|---|---|---|`,
    ...runs.map((r, i) =>
      `| ${i + 1} | ${fmt(r.floor.seconds, 2)} | ${fmt(r.operator.seconds, 2)} | ${fmt(ratios[i], 2)} | ${
        fmt(opWrites[i], 2)
      } | ${fmt(r.workers.seconds, 2)} | ${fmt(workerRatios[i], 2)} |`
    ),
    `| **median** | **${fmt(median(runs.map((r) => r.floor.seconds)), 2)}** | **${
      fmt(median(runs.map((r) => r.operator.seconds)), 2)
    }** | **${fmt(medRatio, 2)}** | **${fmt(medWrites, 2)}** | **${
      fmt(median(runs.map((r) => r.workers.seconds)), 2)
    }** | **${fmt(median(workerRatios), 2)}** |`,
    "",
    `- Throughput: operator ${fmt(n / median(runs.map((r) => r.operator.seconds)), 0)} DataFlows/s, floor ${
      fmt(n / median(runs.map((r) => r.floor.seconds)), 0)
    } DataFlows/s (range of operator times ${range(runs.map((r) => r.operator.seconds), 2)} s).`,
    `- Target operator <= 1.5 x floor: **${medRatio <= 1.5 ? "met" : "not met"}** (median ratio ${
      fmt(medRatio, 2)
    }).`,
    `- Target <= 6 API writes per new DataFlow, events included: **${
      medWrites <= 6 ? "met" : "not met"
    }** (median ${fmt(medWrites, 2)}; floor: ${
      fmt(median(floorWritesPer), 2)
    }, its DataFlow create excluded like the operator's).`,
    "",
    `### Where the requests go (last run, at the API server, per DataFlow; the benchmark's ${n} DataFlow creates excluded)`,
    "",
    `- Operator writes, everything it wrote until it exited: ${formatCounts(perDf(last.operator, true), n)}`,
    `- Operator writes until convergence only: ${
      formatCounts(subtract(byVerbResource(last.operator.window, { writesOnly: true }), own), n)
    }. The reconciler emitted ${p.eventsEmitted} events; at convergence ${p.eventsPending} event series were still`,
    `  held back by the recorder's API budget (burst 50, then 10 writes/s for the whole process) and were written when`,
    `  the operator was stopped (SIGTERM: the recorder flushes on shutdown), which the first line includes.`,
    `- Operator writes with status codes: ${
      formatCounts(
        subtract(byVerbResource(last.operator.delta, { writesOnly: true, withCode: true }), {
          "POST dataflows 201": n,
        }),
        n,
      )
    }`,
    `- Operator reads (GET/LIST): ${
      formatCounts(
        Object.fromEntries(
          Object.entries(byVerbResource(last.operator.delta)).filter(([k]) => /^(GET|LIST)/.test(k)),
        ),
        n,
      )
    }`,
    `- Floor writes: ${formatCounts(perDf(last.floor, true), n)}`,
    `- Other writes during the operator run (not the operator's: the API server's own): ${
      formatCounts(Object.fromEntries(otherWrites(last.operator.delta)))
    }`,
    "",
    `### Operator profile (last run, its own /metrics deltas)`,
    "",
    `- Reconciles: ${reconcileTotal} for ${n} DataFlows (${fmt(reconcileTotal / n, 2)} per DataFlow; ${
      formatCounts(p.reconciles)
    }).`,
    `- Time inside reconciles: ${fmt(p.reconcileSeconds, 2)} s in total, ${
      fmt(p.reconcileSeconds / reconcileTotal * 1000, 2)
    } ms per reconcile, ` +
    `${fmt(p.reconcileSeconds / last.operator.seconds * 100, 0)} % of the run's ${
      fmt(last.operator.seconds, 2)
    } s.`,
    `- Client requests: ${formatCounts(p.requests)}; mean latency per request: ${
      Object.entries(p.requestSeconds).map(([k, v]) => `${k} ${fmt(v * 1000, 1)} ms`).join(", ")
    }.`,
    `- CPU from the first create to convergence (last run): floor: ${
      formatCpu(last.floor.cpu, last.floor.seconds)
    };`,
    `  operator: ${formatCpu(last.operator.cpu, last.operator.seconds)}; ${BENCH_WORKERS} workers: ${
      formatCpu(last.workers.cpu, last.workers.seconds)
    }.`,
    `- With ${BENCH_WORKERS} workers: ${
      Object.values(last.workersProfile.reconciles).reduce((a, b) => a + b, 0)
    } reconciles, ${fmt(last.workersProfile.reconcileSeconds, 2)} s inside reconciles over a ${
      fmt(last.workers.seconds, 2)
    } s run (mean latency per request: ${
      Object.entries(last.workersProfile.requestSeconds).map(([k, v]) => `${k} ${fmt(v * 1000, 1)} ms`).join(
        ", ",
      )
    }); writes per new DataFlow ${
      fmt(median(runs.map((r) => (operatorWrites(r.workers.delta) - n) / n)), 2)
    }: ${formatCounts(perDf(last.workers, true), n)}.`,
  ];
  const medOp = median(runs.map((r) => r.operator.seconds));
  const medFloor = median(runs.map((r) => r.floor.seconds));
  writeResults({
    summary: [
      {
        figure: `1. Throughput, ${n} DataFlows (operator / floor)`,
        target: "<= 1.5 x floor",
        value: `${fmt(medOp, 1)} s / ${fmt(medFloor, 1)} s = ${fmt(medRatio, 2)} x`,
        met: medRatio <= 1.5,
      },
      {
        figure: "1. API writes per new DataFlow (events included)",
        target: "<= 6",
        value: fmt(medWrites, 2),
        met: medWrites <= 6,
      },
      {
        figure: `1. Throughput with ${BENCH_WORKERS} workers (benchmark-only entry point)`,
        target: "informational",
        value: `${fmt(median(runs.map((r) => r.workers.seconds)), 1)} s = ${
          fmt(median(workerRatios), 2)
        } x floor`,
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
      runs: runs.map((r) => ({
        floorSeconds: r.floor.seconds,
        operatorSeconds: r.operator.seconds,
        floorRequests: Object.fromEntries(r.floor.delta),
        operatorRequests: Object.fromEntries(r.operator.delta),
        profile: r.profile,
        workersSeconds: r.workers.seconds,
        workersRequests: Object.fromEntries(r.workers.delta),
        workersProfile: r.workersProfile,
      })),
    },
  });
}
