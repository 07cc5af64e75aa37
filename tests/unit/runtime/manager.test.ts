/**
 * The manager over the whole runtime on the fake API server (docs/behaviour/manager.md): graceful
 * shutdown, readiness, lost leadership, standbys, write fencing, metric names. The runnable groups
 * with stub runnables: manager-groups.test.ts. The health and metrics endpoints themselves:
 * tests/unit/observe/http.test.ts.
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
import type { Clock } from "../../../lib/time/clock.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";
import { waitFor } from "../../tools/wait.ts";
import { advanceUntil, get, poll } from "./manager-fixtures.ts";

const CM = "v1/configmaps";
const LEASES = "coordination.k8s.io/v1/leases";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
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
    assert.equal(registry.gauge("leader_election_master_status", "", ["name"]).get({ name: "op" }), 1);
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
    assert.equal(registry.gauge("leader_election_master_status", "", ["name"]).get({ name: "op" }), 0);
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
    assert.equal(registry.gauge("leader_election_master_status", "", ["name"]).get({ name: "op" }), 0);
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
