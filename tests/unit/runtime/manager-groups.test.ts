/**
 * The manager's runnable groups (docs/behaviour/manager.md, "Groups", "Graceful shutdown" and
 * "Failures") with stub runnables on a fake clock: start order, reverse stop order, leader-only
 * work only after election, failures and stuck stops. The whole runtime under the manager:
 * manager.test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { Manager, type ManagerOptions } from "../../../lib/runtime/manager.ts";
import type { Runnable } from "../../../lib/runtime/runnable.ts";
import type { ManagedCache, ManagedController } from "../../../lib/runtime/runnables.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { FakeApiServer } from "../../tools/fake-apiserver.ts";
import { waitFor } from "../../tools/wait.ts";
import { advanceUntil, get, poll, settle } from "./manager-fixtures.ts";

const LEASES = "coordination.k8s.io/v1/leases";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

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

  it("leader-only work cut off at the end of the grace period still gets a second to return before the caches stop", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock, { shutdownTimeoutMs: 5_000 });
    const log: string[] = [];
    mgr.add({
      name: "reconciles",
      leaderOnly: true,
      start: (signal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => {
            log.push("abort reconciles");
            // An aborted reconcile unwinds: its API call fails, it logs, it returns.
            void clock.sleep(300).then(() => resolve(void log.push("reconciles returned")));
          }, { once: true })
        ),
      // A drain that uses the whole grace period (the controller's, when a reconcile hangs).
      stop: ({ timeoutMs }) => clock.sleep(timeoutMs).then(() => false),
    });
    mgr.addInformer(cacheStub(log, "things"));
    const run = mgr.run();
    await waitFor("the runnables to start", () => log.includes("start informer things"), poll);
    mgr.stop();
    assert.equal(await settle(clock, run, "the shutdown"), 1);
    assert.deepEqual(log.slice(1), ["abort reconciles", "reconciles returned", "abort informer things"]);
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

  it("refuses an informer added while stopping, and leaves no trace of it", async () => {
    const clock = new FakeClock();
    const { mgr } = stubManager(clock);
    const log: string[] = [];
    const run = mgr.run();
    mgr.stop();
    assert.equal(await settle(clock, run, "the shutdown"), 0);
    const late = cacheStub(log, "late");
    assert.throws(() => mgr.addInformer(late), /already stopping/);
    assert.deepEqual(mgr.ready.names, [], "no readiness check of a refused informer");
    assert.throws(() => mgr.addInformer(late), /already stopping/, "refused again, not taken as added");
  });
});
