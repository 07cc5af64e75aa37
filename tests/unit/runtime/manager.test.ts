/**
 * The manager and the health/metrics endpoints on the fake API server (real time, short
 * periods): start order, graceful shutdown order, lost leadership, standby behaviour, write
 * fencing, and scenarios 31, 39 and 40 of reference/runtime.md §7.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { HealthChecks, parseBindAddress, startObserveServer } from "../../../lib/observe/http.ts";
import { Controller } from "../../../lib/runtime/controller.ts";
import { WriteFencedError } from "../../../lib/runtime/fence.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import { Manager, type ManagerOptions } from "../../../lib/runtime/manager.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";

const CM = "v1/configmaps";
const LEASES = "coordination.k8s.io/v1/leases";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}
const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(
  options: Partial<ManagerOptions> = {},
  reconcile?: (key: string, signal: AbortSignal) => Promise<void>,
) {
  const api = new FakeApiServer();
  const registry = new Registry();
  const client = new KubeClient(api, { registry, sleep: () => sleep(1) });
  const informer = new Informer(client, builtin.ConfigMap, { registry });
  const order: string[] = [];
  const reconciled: string[] = [];
  const controller = new Controller({
    name: "cms",
    registry,
    reconcile: async (ctx) => {
      reconciled.push(ctx.key);
      await reconcile?.(ctx.key, ctx.signal);
    },
  }).for(informer);
  const mgr = new Manager({
    client,
    name: "test",
    registry,
    healthBindAddress: "127.0.0.1:0",
    metricsBindAddress: "127.0.0.1:0",
    handleSignals: false,
    ...options,
  });
  mgr.addController(controller);
  cleanups.push(() => mgr.stop());
  return { api, registry, client, informer, controller, mgr, order, reconciled };
}

describe("observe HTTP endpoints", () => {
  it("serves /healthz, /readyz with named checks, ?verbose, ?exclude, /readyz/<name> and /metrics", async () => {
    const ready = new HealthChecks(200);
    let cacheOk = false;
    ready.add("informer-things", () => cacheOk || "not synced");
    ready.add("db", () => true);
    const registry = new Registry();
    registry.counter("things_total", "Things.").inc({}, 3);
    const srv = await startObserveServer({
      address: "127.0.0.1:0",
      health: new HealthChecks(),
      ready,
      registry,
    });
    cleanups.push(() => srv.close());
    assert.deepEqual(await get(srv.port, "/healthz"), { status: 200, body: "ok" });
    assert.deepEqual(await get(srv.port, "/healthz?verbose"), {
      status: 200,
      body: "[+]ping ok\nhealthz check passed\n",
    });
    const failing = await get(srv.port, "/readyz");
    assert.equal(failing.status, 500);
    assert.equal(failing.body, "[-]informer-things failed: not synced\n[+]db ok\nreadyz check failed\n");
    assert.equal((await get(srv.port, "/readyz?exclude=informer-things")).status, 200);
    assert.match(
      (await get(srv.port, "/readyz?exclude=informer-things&verbose")).body,
      /\[\+\]informer-things excluded: ok/,
    );
    assert.equal((await get(srv.port, "/readyz/informer-things")).status, 500);
    assert.deepEqual(await get(srv.port, "/readyz/db"), { status: 200, body: "ok" });
    assert.equal((await get(srv.port, "/readyz/nope")).status, 404);
    cacheOk = true;
    assert.deepEqual(await get(srv.port, "/readyz?verbose"), {
      status: 200,
      body: "[+]informer-things ok\n[+]db ok\nreadyz check passed\n",
    });
    const m = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
    assert.match(m.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
    assert.match(await m.text(), /^things_total 3$/m);
    assert.equal((await get(srv.port, "/other")).status, 404);
  });

  it("a hanging check fails after its timeout; check names are validated; bind addresses parse", async () => {
    const checks = new HealthChecks(50);
    checks.add("slow", () => new Promise(() => {}));
    const [r] = await checks.run();
    assert.equal(r.ok, false);
    assert.throws(() => checks.add("bad name", () => true));
    assert.deepEqual(parseBindAddress(":9090"), { host: "", port: 9090 });
    assert.deepEqual(parseBindAddress("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseBindAddress("[::1]:81"), { host: "::1", port: 81 });
    assert.deepEqual(parseBindAddress("8080"), { host: "", port: 8080 });
    assert.throws(() => parseBindAddress("nope"));
  });
});

describe("manager", () => {
  it("starts informers and controllers, is ready once synced, and shuts down in order with exit 0", async () => {
    const order: string[] = [];
    const { api, mgr, reconciled, registry } = setup({}, async (key) => {
      if (key === "ns/slow") {
        order.push("reconcile-start");
        await sleep(300);
        order.push("reconcile-end");
      }
    });
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    mgr.addCloser({ close: () => Promise.resolve(void order.push("closer")) });
    mgr.addReadyCheck("custom", () => true);
    const run = mgr.run();
    await waitFor(() => mgr.ports.length > 0, "the HTTP server");
    const port = mgr.ports[0];
    assert.equal(mgr.ports.length, 1, "same address: one server for probes and metrics");
    await waitFor(() => reconciled.includes("ns/a"), "the first reconcile");
    assert.deepEqual(await get(port, "/readyz"), { status: 200, body: "ok" });
    assert.match((await get(port, "/readyz?verbose")).body, /\[\+\]informer-configmap ok/);
    api.put(CM, { metadata: { name: "slow", namespace: "ns" } });
    await waitFor(() => order.includes("reconcile-start"), "the slow reconcile");
    mgr.stop();
    api.put(CM, { metadata: { name: "late", namespace: "ns" } });
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
    await waitFor(() => informer.hasSynced() && api.openWatches === 1, "the watch");
    const port = mgr.ports[0];
    assert.equal((await get(port, "/readyz")).status, 200);
    api.intercept = (
      r,
    ) => (r.verb === "WATCH" ? statusResponse(503, "ServiceUnavailable", "down") : undefined);
    await sleep(5);
    api.closeWatches();
    let failing = { status: 0, body: "" };
    await waitFor(() => informer.isStale(), "staleness");
    failing = await get(port, "/readyz");
    assert.equal(failing.status, 500);
    assert.match(failing.body, /\[-\]informer-cms failed: watch is stale/);
    assert.equal((await get(port, "/healthz")).status, 200, "liveness is not affected");
    api.intercept = undefined;
    await waitFor(() => !informer.isStale(), "recovery");
    assert.equal((await get(port, "/readyz")).status, 200);
    mgr.stop();
    assert.equal(await run, 0);
  });

  it("a reconcile hanging past the shutdown timeout makes run resolve 1 (scenario 39)", async () => {
    const { api, mgr, reconciled } = setup(
      { shutdownTimeoutMs: 300 },
      (_key, signal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())),
    );
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const run = mgr.run();
    await waitFor(() => reconciled.length === 1, "the reconcile");
    const t0 = Date.now();
    mgr.stop();
    assert.equal(await run, 1);
    assert.ok(Date.now() - t0 < 2_000);
  });

  it("with leader election: leads, reconciles, then releases the lease after draining", async () => {
    const order: string[] = [];
    const { api, mgr, reconciled, registry } = setup({
      leaderElection: {
        namespace: "ns",
        leaseName: "op",
        identity: "me",
        leaseDurationMs: 3_000,
        renewDeadlineMs: 2_000,
        retryPeriodMs: 200,
      },
    });
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    mgr.addCloser({
      close: () =>
        Promise.resolve(
          void order.push(
            `closer holder=${
              api.object(LEASES, "ns", "op")?.spec &&
              (api.object(LEASES, "ns", "op")!.spec as { holderIdentity: string }).holderIdentity
            }`,
          ),
        ),
    });
    const run = mgr.run();
    await waitFor(() => reconciled.includes("ns/a"), "the reconcile");
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

  it("a standby serves probes and metrics, never reconciles, and never starts leader work on shutdown (scenario 31)", async () => {
    const { api, mgr, reconciled, registry } = setup({
      leaderElection: {
        namespace: "ns",
        leaseName: "op",
        identity: "standby",
        leaseDurationMs: 3_000,
        renewDeadlineMs: 2_000,
        retryPeriodMs: 200,
      },
    });
    api.put(LEASES, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "ns" },
      spec: { holderIdentity: "other", leaseDurationSeconds: 3600, leaseTransitions: 0 },
    });
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const run = mgr.run();
    await waitFor(() => mgr.ports.length > 0, "the HTTP server");
    const port = mgr.ports[0];
    await sleep(500);
    assert.equal((await get(port, "/healthz")).status, 200);
    assert.equal((await get(port, "/readyz")).status, 200, "the standby's caches are warm");
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

  it("lost leadership: reconciles are aborted, writes fenced at once, run resolves 1 within the lease (scenario 27)", async () => {
    let aborted = false;
    const { api, mgr, reconciled } = setup({
      leaderElection: {
        namespace: "ns",
        leaseName: "op",
        identity: "me",
        leaseDurationMs: 3_000,
        renewDeadlineMs: 2_000,
        retryPeriodMs: 200,
      },
    }, (_k, signal) =>
      new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve();
        })
      ));
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const run = mgr.run();
    await waitFor(() => reconciled.length === 1, "the reconcile");
    api.intercept = (
      r,
    ) => (r.path.includes("/leases") ? statusResponse(503, "ServiceUnavailable", "down") : undefined);
    const t0 = Date.now();
    let fencedAt = 0;
    const probe = setInterval(() => {
      if (!fencedAt && !mgr.writesAllowed()) fencedAt = Date.now();
    }, 5);
    assert.equal(await run, 1);
    clearInterval(probe);
    assert.ok(aborted, "the in-flight reconcile saw its signal abort");
    assert.ok(fencedAt - t0 <= 2_000 + 300, `writes fenced ${fencedAt - t0} ms after renewals began failing`);
    assert.ok(Date.now() - t0 < 3_000, "run resolved before the lease could expire");
    await assert.rejects(
      mgr.client.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "ns" } }),
      WriteFencedError,
    );
  });

  it("exposes the controller-runtime metric names on /metrics after successes and an error (scenario 40)", async () => {
    let n = 0;
    const { api, mgr, reconciled } = setup({}, () => {
      n++;
      if (n === 2) return Promise.reject(new Error("x"));
      return Promise.resolve();
    });
    for (const name of ["a", "b", "c"]) api.put(CM, { metadata: { name, namespace: "ns" } });
    const run = mgr.run();
    await waitFor(() => reconciled.length >= 4, "reconciles");
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
