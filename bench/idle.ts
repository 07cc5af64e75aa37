/**
 * Benchmark 2, idle cost: with N (1,000) DataFlows the operator has reconciled (the throughput
 * benchmark's last namespace, or made here by the operator), (a) restart the operator and wait
 * until it has reconciled every DataFlow once, (b) force a full resync (a change of the
 * operator's own Deployment, which re-reconciles every DataFlow: OPERATOR_DEPLOYMENT_NAME) and
 * wait again. Target for each: 0 writes and 0 events, counted at the API server.
 */
import type { KubeClient, KubeObject } from "../lib/kube/client.ts";
import { builtin } from "../lib/kube/resources.ts";
import { freshNamespace } from "../tests/controlplane/env.ts";
import { OPERATOR_NAMESPACE } from "../tests/e2e/install.ts";
import {
  byVerbResource,
  diffRequests,
  formatCounts,
  otherWrites,
  type RequestCounts,
  snapshotRequests,
  subtract,
} from "./lib/apiserver.ts";
import type { BenchContext, Cluster } from "./lib/context.ts";
import { ConvergenceWatch } from "./lib/converge.ts";
import { machineInfo } from "./lib/machine.ts";
import { commandOf, metricSum, type Runtime, startOperator, waitForReconciles } from "./lib/operator.ts";
import { writeResults } from "./lib/report.ts";
import { fmt, median, sleep } from "./lib/stats.ts";
import { createDataFlows, names } from "./lib/writer.ts";

/** The stand-in for the operator's own Deployment (only its changes matter; nothing runs it). */
const SELF = "dataflow-operator-bench";

interface EventTally {
  objects: number;
  countSum: number;
}

async function eventTally(admin: KubeClient, namespace: string): Promise<EventTally> {
  const list = await admin.listAll<{ count?: number }>(builtin.Event, { namespace });
  return { objects: list.items.length, countSum: list.items.reduce((n, e) => n + (e.count ?? 1), 0) };
}

interface Phase {
  seconds: number;
  reconciles: number;
  delta: RequestCounts;
  eventsBefore: EventTally;
  eventsAfter: EventTally;
}

/** DataFlows the operator reconciled, made here when the throughput benchmark did not leave any. */
async function reconciledNamespace(ctx: BenchContext, cluster: Cluster, runtime: Runtime): Promise<string> {
  if (ctx.reconciled && ctx.reconciled.count === ctx.sizes.throughput) return ctx.reconciled.namespace;
  const ns = await freshNamespace(cluster.cp, "idle");
  const dfNames = names("df", ctx.sizes.throughput);
  const { op } = await startOperator({
    runtime,
    kubeconfig: cluster.identity.kubeconfigPath,
    args: [`--namespace=${ns}`],
  });
  const watch = new ConvergenceWatch(cluster.admin, ns);
  try {
    await watch.start();
    await op.waitHealthy();
    await Promise.all([createDataFlows(cluster.admin, ns, dfNames), watch.waitAll(dfNames, 30 * 60_000)]);
    await sleep(3000); // let the last events go out
  } finally {
    watch.stop();
    await op.stop();
  }
  ctx.reconciled = { namespace: ns, count: dfNames.length };
  return ns;
}

/** Runs the idle-cost benchmark and writes bench/results/idle.md. */
export async function idle(ctx: BenchContext, runtime: Runtime = "bun"): Promise<void> {
  const cluster = await ctx.cluster("main");
  const { admin, identity } = cluster;
  const machine = await machineInfo(admin);
  const ns = await reconciledNamespace(ctx, cluster, runtime);
  const n = ctx.sizes.throughput;
  await admin.create(builtin.Deployment, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: SELF, namespace: OPERATOR_NAMESPACE },
    spec: {
      selector: { matchLabels: { app: SELF } },
      template: {
        metadata: { labels: { app: SELF } },
        spec: { containers: [{ name: "manager", image: "example.invalid/operator:bench" }] },
      },
    },
  } as KubeObject, { namespace: OPERATOR_NAMESPACE }).catch((err) => {
    if (!String(err).includes("already exists")) throw err;
  });

  const restarts: Phase[] = [];
  const resyncs: Phase[] = [];
  for (let run = 0; run < ctx.sizes.runs; run++) {
    // (a) restart: a new operator process lists everything and reconciles every DataFlow once.
    let eventsBefore = await eventTally(admin, ns);
    let before = await snapshotRequests(admin);
    let t0 = performance.now();
    const { op } = await startOperator({
      runtime,
      kubeconfig: identity.kubeconfigPath,
      args: [`--namespace=${ns}`],
      env: { OPERATOR_DEPLOYMENT_NAME: SELF, OPERATOR_NAMESPACE },
    });
    try {
      let metrics = await waitForReconciles(op, n);
      let seconds = (performance.now() - t0) / 1000;
      await sleep(3000); // anything asynchronous (events) would be out by now
      restarts.push({
        seconds,
        reconciles: metricSum(metrics, "controller_runtime_reconcile_total", { controller: "dataflow" }),
        delta: diffRequests(before, await snapshotRequests(admin)),
        eventsBefore,
        eventsAfter: await eventTally(admin, ns),
      });
      // (b) full resync: the operator's own Deployment changes, so every DataFlow is reconciled again.
      const done = metricSum(await op.metrics(), "controller_runtime_reconcile_total", {
        controller: "dataflow",
      });
      eventsBefore = await eventTally(admin, ns);
      before = await snapshotRequests(admin);
      t0 = performance.now();
      await admin.patch(builtin.Deployment, SELF, {
        metadata: { annotations: { "bench/resync": `${Date.now()}` } },
      }, { namespace: OPERATOR_NAMESPACE, type: "merge" });
      metrics = await waitForReconciles(op, done + n);
      seconds = (performance.now() - t0) / 1000;
      await sleep(3000);
      resyncs.push({
        seconds,
        reconciles: metricSum(metrics, "controller_runtime_reconcile_total", { controller: "dataflow" }) -
          done,
        delta: diffRequests(before, await snapshotRequests(admin)),
        eventsBefore,
        eventsAfter: await eventTally(admin, ns),
      });
      console.log(
        `  run ${run + 1}: restart ${fmt(restarts.at(-1)!.seconds, 2)} s, resync ${fmt(seconds, 2)} s`,
      );
    } finally {
      await op.stop();
    }
  }

  const ownPatch = { "PATCH deployments": 1 };
  const writesOf = (p: Phase, own?: Record<string, number>) =>
    subtract(byVerbResource(p.delta, { writesOnly: true }), own ?? {});
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
  const row = (what: string, p: Phase, i: number, own?: Record<string, number>) =>
    `| ${what} ${i + 1} | ${p.reconciles} | ${fmt(p.seconds, 2)} | ${total(writesOf(p, own))} | ${
      formatCounts(writesOf(p, own))
    } | ${p.eventsAfter.objects - p.eventsBefore.objects} / ${
      p.eventsAfter.countSum - p.eventsBefore.countSum
    } | ${formatCounts(byVerbResource(p.delta, { writesOnly: false }))} |`;
  const restartWrites = restarts.map((p) => total(writesOf(p)));
  const resyncWrites = resyncs.map((p) => total(writesOf(p, ownPatch)));
  const events = [...restarts, ...resyncs].map((p) =>
    p.eventsAfter.objects - p.eventsBefore.objects + p.eventsAfter.countSum - p.eventsBefore.countSum
  );
  const met = [...restartWrites, ...resyncWrites, ...events].every((x) => x === 0);
  const body = [
    `Operator: \`${
      commandOf(runtime)
    }\` \`--leader-elect=false --namespace=<ns>\` on ${n} DataFlows it reconciled`,
    `(namespace \`${ns}\`), with OPERATOR_DEPLOYMENT_NAME=${SELF} OPERATOR_NAMESPACE=${OPERATOR_NAMESPACE}.`,
    `A restart is a new process that lists everything and reconciles every DataFlow once; the forced full resync`,
    `is a change of that Deployment (an annotation), on which the operator re-reconciles every DataFlow.`,
    `Each phase ends when the operator counted N more reconciles and its queue is empty, plus 3 s. Writes and reads`,
    `are the API server's apiserver_request_total deltas on dataflows, configmaps, deployments and events; the`,
    `benchmark's own PATCH of the Deployment is subtracted. ${ctx.sizes.runs} runs.`,
    "",
    `| Phase | Reconciles | Time (s) | Writes | Writes by verb | New Events / count increase | All requests (not WATCH) |`,
    `|---|---|---|---|---|---|---|`,
    ...restarts.map((p, i) => row("restart", p, i)),
    ...resyncs.map((p, i) => row("resync", p, i, ownPatch)),
    "",
    `- Median writes: restart ${median(restartWrites)}, full resync ${median(resyncWrites)}; events: ${
      events.every((e) => e === 0) ? "0" : events.join(", ")
    }.`,
    `- Target 0 writes and 0 events: **${met ? "met" : "not met"}**.`,
    `- Other writes in these windows (not the operator's: the API server's own): ${
      formatCounts(Object.fromEntries(otherWrites(restarts.at(-1)!.delta)))
    }.`,
  ];
  writeResults({
    summary: [
      {
        figure: `2. Idle cost, ${n} reconciled DataFlows: restart`,
        target: "0 writes, 0 events",
        value: `${median(restartWrites)} writes, ${
          median(restarts.map((p) => p.eventsAfter.objects - p.eventsBefore.objects))
        } new events`,
        met: restartWrites.every((w) => w === 0) && events.slice(0, restarts.length).every((e) => e === 0),
      },
      {
        figure: `2. Idle cost, ${n} reconciled DataFlows: forced full resync`,
        target: "0 writes, 0 events",
        value: `${median(resyncWrites)} writes, ${
          median(resyncs.map((p) => p.eventsAfter.objects - p.eventsBefore.objects))
        } new events`,
        met: resyncWrites.every((w) => w === 0) && events.slice(restarts.length).every((e) => e === 0),
      },
    ],
    name: "idle",
    title: "Benchmark 2: idle cost (restart and full resync)",
    command: ctx.command,
    machine,
    small: ctx.sizes.small,
    body,
    data: {
      runtime,
      n,
      namespace: ns,
      restarts: restarts.map((p) => ({ ...p, delta: Object.fromEntries(p.delta) })),
      resyncs: resyncs.map((p) => ({ ...p, delta: Object.fromEntries(p.delta) })),
    },
  });
}
