/**
 * The manager (docs/behaviour/manager.md): its runnable groups with stub runnables on a fake clock
 * (start order, reverse stop order, leader-only work only after election, failures), the whole
 * runtime on the fake API server (graceful shutdown, readiness, lost leadership, standbys, write
 * fencing, metric names). The health and metrics endpoints themselves: tests/unit/observe/http.test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { Controller } from "../../../lib/runtime/controller.ts";
import { WriteFencedError } from "../../../lib/runtime/fence.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import { Manager, type ManagerOptions } from "../../../lib/runtime/manager.ts";
import type { Runnable } from "../../../lib/runtime/runnable.ts";
import type { ManagedCache, ManagedController } from "../../../lib/runtime/runnables.ts";
import type { Clock } from "../../../lib/time/clock.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";
import { waitFor } from "../../tools/wait.ts";

const CM = "v1/configmaps";
const LEASES = "coordination.k8s.io/v1/leases";
const poll = { timeoutMs: 20_000, intervalMs: 5 };
const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Moves the fake clock in steps until `cond` holds. */
async function advanceUntil(
  clock: FakeClock,
  cond: () => boolean,
  what: string,
  maxMs = 120_000,
  stepMs = 100,
) {
  const end = clock.now() + maxMs;
  while (!cond()) {
    if (clock.now() >= end) assert.fail(`fake time ran out waiting for ${what}`);
    await clock.advance(stepMs);
  }
}

/** Settles a promise that may need fake time to pass. */
async function settle<T>(clock: FakeClock, p: Promise<T>, what: string): Promise<T> {
  let done = false;
  const out = p.finally(() => (done = true));
  await advanceUntil(clock, () => done, what);
  return await out;
}

/** A runnable that records its start, graceful stop and abort in `log`, and can be made to fail. */
function stub(
  log: string[],
  name: string,
  options: { leaderOnly?: boolean; drained?: boolean | "never"; onStart?: () => void } = {},
): Runnable & { fail(err: Error): void } {
  let reject: (err: Error) => void = () => assert.fail(`${name} failed before it started`);
  let failed = false;
  return {
    name,
    leaderOnly: options.leaderOnly,
    start(signal) {
      log.push(`start ${name}`);
      options.onStart?.();
      return new Promise<void>((resolve, rej) => {
        reject = rej;
        signal.addEventListener("abort", () => failed || resolve(void log.push(`abort ${name}`)), {
          once: true,
        });
      });
    },
    stop() {
      log.push(`stop ${name}`);
      if (options.drained === "never") return new Promise<boolean>(() => {});
      return Promise.resolve(options.drained ?? true);
    },
    fail: (err) => {
      failed = true;
      reject(err);
    },
  };
}

/** A cache as the manager sees an informer. */
function cacheStub(log: string[], name: string): ManagedCache {
  return {
    name,
    start: (signal) =>
      new Promise<void>((resolve) => {
        log.push(`start informer ${name}`);
        signal!.addEventListener("abort", () => resolve(void log.push(`abort informer ${name}`)), {
          once: true,
        });
      }),
    hasSynced: () => true,
    isStale: () => false,
  };
}

/** A controller as the manager sees one. */
function controllerStub(log: string[], name: string, informers: ManagedCache[]): ManagedController {
  return {
    name,
    informers,
    start: (signal) =>
      new Promise<void>((resolve) => {
        log.push(`start controller ${name}`);
        signal!.addEventListener("abort", () => resolve(void log.push(`abort controller ${name}`)), {
          once: true,
        });
      }),
    stop: () => Promise.resolve(!!log.push(`stop controller ${name}`)),
  };
}

function stubManager(clock: FakeClock, options: Partial<ManagerOptions> = {}) {
  const api = new FakeApiServer();
  const registry = new Registry();
  const client = new KubeClient(api, { registry, clock, sleep: () => Promise.resolve() });
  const mgr = new Manager({
    client,
    name: "test",
    registry,
    clock,
    healthBindAddress: "0",
    metricsBindAddress: "0",
    handleSignals: false,
    ...options,
  });
  cleanups.push(() => mgr.stop());
  return { api, mgr };
}

describe("manager: runnable groups", () => {
  it("starts servers, services, caches and leader-only runnables in that order and stops them in reverse", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock, {
      healthBindAddress: "127.0.0.1:0",
      metricsBindAddress: "127.0.0.1:0",
    });
    const log: string[] = [];
    let portsAtFirstStart: number[] = [];
    mgr.add(stub(log, "leader-task", { leaderOnly: true }));
    mgr.addController(controllerStub(log, "things", [cacheStub(log, "things")]));
    mgr.addCloser({ close: () => Promise.resolve(void log.push("close recorder")) }, "recorder");
    mgr.add(stub(log, "service", { onStart: () => (portsAtFirstStart = mgr.ports) }));
    const run = mgr.run();
    await waitFor("every runnable to start", () => log.length === 4, poll);
    assert.deepEqual(log, [
      "start service",
      "start informer things",
      "start leader-task",
      "start controller things",
    ]);
    assert.equal(
      portsAtFirstStart.length,
      1,
      "the health and metrics server listened before anything else started",
    );
    const port = portsAtFirstStart[0];
    assert.equal((await get(port, "/readyz?verbose")).status, 200);
    log.length = 0;
    mgr.stop();
    assert.equal(await settle(clock, run, "the shutdown"), 0);
    assert.deepEqual(log, [
      "stop leader-task",
      "stop controller things",
      "abort leader-task",
      "abort controller things",
      "abort informer things",
      "close recorder",
      "stop service",
      "abort service",
    ]);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), "the servers closed last");
  });

  it("starts leader-only runnables only once elected; caches and services run on the standby before", async () => {
    const clock = new FakeClock();
    const { api, mgr } = stubManager(clock, {
      leaderElection: {
        namespace: "ns",
        leaseName: "op",
        identity: "me",
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
    });
    api.put(LEASES, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "ns" },
      spec: { holderIdentity: "other", leaseDurationSeconds: 15, leaseTransitions: 0 },
    });
    const log: string[] = [];
    let leadingAtStart: boolean | undefined;
    mgr.add(stub(log, "leader-task", { leaderOnly: true, onStart: () => (leadingAtStart = mgr.isLeader()) }));
    mgr.addInformer(cacheStub(log, "things"));
    mgr.add(stub(log, "service"));
    const run = mgr.run();
    await advanceUntil(clock, () => mgr.elector!.leader === "other", "the standby to see the other holder");
    assert.deepEqual(log, ["start service", "start informer things"], "a standby runs no leader-only work");
    assert.equal(mgr.isLeader(), false);
    await advanceUntil(clock, () => log.includes("start leader-task"), "the takeover of the expired lease");
    assert.equal(leadingAtStart, true, "leader-only work starts after the lease is ours");
    mgr.stop();
    assert.equal(await settle(clock, run, "the shutdown"), 0);
    assert.equal((api.object(LEASES, "ns", "op")?.spec as { holderIdentity: string }).holderIdentity, "");
  });

  it("a failing runnable stops the manager with its error: the others stop in order and run resolves 1", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock);
    const log: string[] = [];
    const task = stub(log, "leader-task", { leaderOnly: true });
    mgr.add(task);
    mgr.addInformer(cacheStub(log, "things"));
    mgr.addCloser({ close: () => Promise.resolve(void log.push("close recorder")) }, "recorder");
    const run = mgr.run();
    await waitFor("the leader-only runnable to start", () => log.includes("start leader-task"), poll);
    const boom = new Error("boom");
    task.fail(boom);
    assert.equal(await settle(clock, run, "the shutdown"), 1);
    assert.equal(mgr.failure, boom);
    assert.deepEqual(
      log.slice(2),
      ["abort informer things", "close recorder"],
      "nothing asks the failed one to stop",
    );
  });

  it("a leader-only runnable that cannot finish within the grace period makes run resolve 1", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock);
    const log: string[] = [];
    mgr.add(stub(log, "leader-task", { leaderOnly: true, drained: false }));
    const run = mgr.run();
    await waitFor("the leader-only runnable to start", () => log.includes("start leader-task"), poll);
    mgr.stop();
    assert.equal(await settle(clock, run, "the shutdown"), 1);
    assert.equal(mgr.failure, undefined);
    assert.deepEqual(log, ["start leader-task", "stop leader-task", "abort leader-task"]);
  });

  it("a runnable whose stop never returns is given up on a second after the grace period", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock, { shutdownTimeoutMs: 5_000 });
    const log: string[] = [];
    mgr.add(stub(log, "stuck", { leaderOnly: true, drained: "never" }));
    mgr.addInformer(cacheStub(log, "things"));
    const run = mgr.run();
    await waitFor("the leader-only runnable to start", () => log.includes("start stuck"), poll);
    mgr.stop();
    const t0 = clock.now();
    assert.equal(await settle(clock, run, "the shutdown"), 1);
    assert.ok(clock.now() - t0 >= 6_000, "it waited for the grace period and one second more");
    assert.deepEqual(log.slice(2), ["stop stuck", "abort stuck", "abort informer things"]);
  });

  it("adds each informer once and starts runnables added while running at once", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock);
    const log: string[] = [];
    const cache = cacheStub(log, "things");
    mgr.addInformer(cache).addController(controllerStub(log, "a", [cache]));
    const run = mgr.run();
    await waitFor("the controller to start", () => log.includes("start controller a"), poll);
    mgr.add(stub(log, "late"));
    await waitFor("the late runnable to start", () => log.includes("start late"), poll);
    assert.deepEqual(log, ["start informer things", "start controller a", "start late"]);
    assert.deepEqual(mgr.ready.names, ["informer-things"]);
    mgr.stop();
    assert.equal(await settle(clock, run, "the shutdown"), 0);
  });
});

function setup(
  options: Partial<ManagerOptions> = {},
  reconcile?: (key: string, signal: AbortSignal) => Promise<void>,
  clock?: Clock,
) {
  const api = new FakeApiServer();
  const registry = new Registry();
  // Retries wait a millisecond (or no fake time at all), so a failing request is retried quickly.
  const retrySleep = clock ? () => Promise.resolve() : () => new Promise<void>((r) => setTimeout(r, 1));
  const client = new KubeClient(api, { registry, clock, sleep: retrySleep });
  const informer = new Informer(client, builtin.ConfigMap, { registry, clock });
  const reconciled: string[] = [];
  const controller = new Controller({
    name: "cms",
    registry,
    clock,
    reconcile: async (ctx) => {
      reconciled.push(ctx.key);
      await reconcile?.(ctx.key, ctx.signal);
    },
  }).for(informer);
  const mgr = new Manager({
    client,
    name: "test",
    registry,
    clock,
    healthBindAddress: "127.0.0.1:0",
    metricsBindAddress: "127.0.0.1:0",
    handleSignals: false,
    ...options,
  });
  mgr.addController(controller);
  cleanups.push(() => mgr.stop());
  return { api, registry, client, informer, controller, mgr, reconciled };
}

const election = {
  namespace: "ns",
  leaseName: "op",
  leaseDurationMs: 3_000,
  renewDeadlineMs: 2_000,
  retryPeriodMs: 200,
};

describe("manager", () => {
  it("starts informers and controllers, is ready once synced, and shuts down in order with exit 0", async () => {
    const order: string[] = [];
    let finishSlow!: () => void;
    const slowMayFinish = new Promise<void>((resolve) => (finishSlow = resolve));
    const { api, mgr, controller, reconciled, registry } = setup({}, async (key) => {
      if (key === "ns/slow") {
        order.push("reconcile-start");
        await slowMayFinish;
        order.push("reconcile-end");
      }
    });
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    mgr.addCloser({ close: () => Promise.resolve(void order.push("closer")) });
    mgr.addReadyCheck("custom", () => true);
    const run = mgr.run();
    await waitFor("the HTTP server", () => mgr.ports.length > 0, poll);
    const port = mgr.ports[0];
    assert.equal(mgr.ports.length, 1, "same address: one server for probes and metrics");
    await waitFor("the first reconcile", () => reconciled.includes("ns/a"), poll);
    assert.deepEqual(await get(port, "/readyz"), { status: 200, body: "ok" });
    assert.match((await get(port, "/readyz?verbose")).body, /\[\+\]informer-configmap ok/);
    api.put(CM, { metadata: { name: "slow", namespace: "ns" } });
    await waitFor("the slow reconcile", () => order.includes("reconcile-start"), poll);
    mgr.stop();
    api.put(CM, { metadata: { name: "late", namespace: "ns" } });
    await waitFor("the drain to begin", () => controller.queue.shuttingDown, poll);
    await flushMicrotasks();
    assert.deepEqual(order, ["reconcile-start"], "nothing is flushed while a reconcile is still running");
    finishSlow();
    assert.equal(await run, 0);
    assert.deepEqual(order, ["reconcile-start", "reconcile-end", "closer"]);
    assert.ok(!reconciled.includes("ns/late"), "no new keys start after stop");
    assert.match(
      registry.render(),
      /controller_runtime_reconcile_total\{controller="cms",result="success"\} 2/,
    );
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), "HTTP is closed last, but closed");
  });

  it("readiness fails while an informer's watch is stale, and recovers", async () => {
    const api = new FakeApiServer();
    const registry = new Registry();
    const client = new KubeClient(api, { registry, retry: { maxRetries: 0 } });
    const informer = new Informer(client, builtin.ConfigMap, {
      registry,
      staleAfterMs: 300,
      backoff: { initialMs: 50, maxMs: 100 },
      name: "cms",
    });
    const mgr = new Manager({
      client,
      name: "t",
      registry,
      healthBindAddress: "127.0.0.1:0",
      metricsBindAddress: "127.0.0.1:0",
      handleSignals: false,
    });
    mgr.addInformer(informer);
    cleanups.push(() => mgr.stop());
    const run = mgr.run();
    await waitFor("the watch", () => informer.hasSynced() && api.openWatches === 1, poll);
    const port = mgr.ports[0];
    assert.equal((await get(port, "/readyz")).status, 200);
    api.intercept = (
      r,
    ) => (r.verb === "WATCH" ? statusResponse(503, "ServiceUnavailable", "down") : undefined);
    api.closeWatches();
    await waitFor("staleness", () => informer.isStale(), poll);
    const failing = await get(port, "/readyz");
    assert.equal(failing.status, 500);
    assert.match(failing.body, /\[-\]informer-cms failed: watch is stale/);
    assert.equal((await get(port, "/readyz/informer-cms")).status, 500);
    assert.equal((await get(port, "/healthz")).status, 200, "liveness is not affected");
    api.intercept = undefined;
    await waitFor("recovery", () => !informer.isStale(), poll);
    assert.equal((await get(port, "/readyz")).status, 200);
    mgr.stop();
    assert.equal(await run, 0);
  });

  it("a reconcile hanging past the shutdown timeout is aborted and makes run resolve 1", async () => {
    let aborted = false;
    const { api, mgr, reconciled } = setup(
      { shutdownTimeoutMs: 300 },
      (_key, signal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          })
        ),
    );
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const run = mgr.run();
    await waitFor("the reconcile", () => reconciled.length === 1, poll);
    mgr.stop();
    assert.equal(await run, 1);
    assert.ok(aborted, "the reconcile's signal aborted at the end of the grace period");
  });

  it("with leader election: leads, reconciles, flushes, then releases the lease after draining", async () => {
    const order: string[] = [];
    const { api, mgr, reconciled, registry } = setup({ leaderElection: { ...election, identity: "me" } });
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const holder = () =>
      (api.object(LEASES, "ns", "op")?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
    mgr.addCloser({ close: () => Promise.resolve(void order.push(`closer holder=${holder()}`)) });
    const run = mgr.run();
    await waitFor("the reconcile", () => reconciled.includes("ns/a"), poll);
    assert.equal(registry.gauge("leader_election_master_status", "").get({ name: "op" }), 1);
    assert.equal(mgr.isLeader(), true);
    await mgr.client.create(builtin.ConfigMap, { metadata: { name: "w", namespace: "ns" } });
    mgr.stop();
    assert.equal(await run, 0);
    assert.deepEqual(order, ["closer holder=me"], "closers flush before the lease is released");
    const lease = api.object(LEASES, "ns", "op") as KubeObject & {
      spec: { holderIdentity: string; leaseDurationSeconds: number };
    };
    assert.equal(lease.spec.holderIdentity, "");
    assert.equal(lease.spec.leaseDurationSeconds, 1);
    assert.equal(registry.gauge("leader_election_master_status", "").get({ name: "op" }), 0);
  });

  it("a standby serves probes and metrics, keeps warm caches, never reconciles or writes, and starts no leader work on shutdown", async () => {
    const { api, mgr, informer, reconciled, registry } = setup({
      leaderElection: { ...election, identity: "standby" },
    });
    api.put(LEASES, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "ns" },
      spec: { holderIdentity: "other", leaseDurationSeconds: 3600, leaseTransitions: 0 },
    });
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const run = mgr.run();
    await waitFor("the HTTP server", () => mgr.ports.length > 0, poll);
    const port = mgr.ports[0];
    // What a leader would have reconciled is in the cache, and the standby knows who leads.
    await waitFor(
      "a synced cache and the other holder seen",
      () => informer.hasSynced() && mgr.elector!.leader === "other",
      poll,
    );
    await waitFor("/readyz to pass", async () => (await get(port, "/readyz")).status === 200, poll);
    assert.equal((await get(port, "/healthz")).status, 200);
    assert.match((await get(port, "/metrics")).body, /leader_election_master_status\{name="op"\} 0/);
    await assert.rejects(
      mgr.client.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "ns" } }),
      WriteFencedError,
    );
    mgr.stop();
    assert.equal(await run, 0);
    assert.deepEqual(reconciled, []);
    assert.equal(registry.gauge("leader_election_master_status", "").get({ name: "op" }), 0);
  });

  it("lost leadership: reconciles are aborted, writes fenced by the renew deadline, run resolves 1 before the lease expires", async () => {
    const clock = new FakeClock();
    let aborted = false;
    const { api, mgr, reconciled } = setup(
      { leaderElection: { ...election, identity: "me" }, healthBindAddress: "0", metricsBindAddress: "0" },
      (_k, signal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          })
        ),
      clock,
    );
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    let code: number | undefined;
    void mgr.run().then((c) => (code = c));
    await advanceUntil(clock, () => reconciled.length === 1, "the reconcile");
    api.intercept = (
      r,
    ) => (r.path.includes("/leases") ? statusResponse(503, "ServiceUnavailable", "down") : undefined);
    const t0 = clock.now();
    let fencedAt: number | undefined;
    await advanceUntil(
      clock,
      () => {
        if (fencedAt === undefined && !mgr.writesAllowed()) fencedAt = clock.now();
        return code !== undefined;
      },
      "run to resolve",
      60_000,
      50,
    );
    assert.equal(code, 1);
    assert.ok(aborted, "the in-flight reconcile saw its signal abort");
    assert.ok(
      fencedAt! - t0 <= election.renewDeadlineMs,
      `writes fenced ${fencedAt! - t0} ms after renewals began failing`,
    );
    assert.ok(clock.now() - t0 < election.leaseDurationMs, "run resolved before the lease could expire");
    await assert.rejects(
      mgr.client.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "ns" } }),
      WriteFencedError,
    );
  });

  it("exposes the controller-runtime metric names on /metrics after successes and an error", async () => {
    let n = 0;
    const { api, mgr, reconciled } = setup({}, () => {
      n++;
      if (n === 2) return Promise.reject(new Error("x"));
      return Promise.resolve();
    });
    for (const name of ["a", "b", "c"]) api.put(CM, { metadata: { name, namespace: "ns" } });
    const run = mgr.run();
    await waitFor("reconciles", () => reconciled.length >= 4, poll);
    await mgr.client.get(builtin.ConfigMap, "a", { namespace: "ns" });
    const text = (await get(mgr.ports[0], "/metrics")).body;
    for (
      const name of [
        'controller_runtime_reconcile_total{controller="cms",result="success"}',
        'controller_runtime_reconcile_total{controller="cms",result="error"} 1',
        'controller_runtime_reconcile_total{controller="cms",result="requeue"} 0',
        'controller_runtime_reconcile_total{controller="cms",result="requeue_after"} 0',
        'controller_runtime_reconcile_errors_total{controller="cms"} 1',
        "controller_runtime_reconcile_time_seconds_bucket",
        'workqueue_depth{name="cms",controller="cms"}',
        'workqueue_adds_total{name="cms",controller="cms"}',
        "workqueue_queue_duration_seconds_bucket",
        "workqueue_work_duration_seconds_bucket",
        'workqueue_retries_total{name="cms",controller="cms"} 1',
        "rest_client_requests_total{code=",
      ]
    ) assert.ok(text.includes(name), `missing ${name}`);
    mgr.stop();
    assert.equal(await run, 0);
  });
});
