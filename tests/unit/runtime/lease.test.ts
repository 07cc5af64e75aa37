/**
 * The leader-election algorithm on the in-memory lock and a fake clock (no HTTP): creating and
 * taking over the record, expiry judged on local observation time, renewal, giving up at the
 * renew deadline, release and the acquisition jitter, as docs/behaviour/leader-election.md says.
 * The Lease lock itself is tested in lease-lock.test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { hostname } from "node:os";
import { AlreadyExistsError, ConflictError } from "../../../lib/kube/errors.ts";
import { KubeClient } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { microTime } from "../../../lib/runtime/leader-lock.ts";
import { defaultIdentity, type LockElectionOptions } from "../../../lib/runtime/election-options.ts";
import { LeaderElector } from "../../../lib/runtime/lease.ts";
import { LeadershipLostError } from "../../../lib/runtime/leader-lock.ts";
import { MemoryLockStore } from "../../../lib/runtime/memory-lock.ts";
import { FakeApiServer } from "../../tools/fake-apiserver.ts";

let electors: LeaderElector[] = [];
afterEach(() => {
  for (const e of electors) e.stop();
  electors = [];
});

function world() {
  const clock = new FakeClock();
  const store = new MemoryLockStore("op");
  const registry = new Registry();
  /** Every operation with the fake time it started at. */
  const log: { op: string; identity: string; at: number }[] = [];
  store.intercept = (c) => void log.push({ op: c.op, identity: c.identity, at: clock.now() });
  const make = (identity: string, extra: Partial<LockElectionOptions> = {}) => {
    const e = new LeaderElector({ lock: store.lock(identity), clock, registry, ...extra });
    electors.push(e);
    return e;
  };
  const until = async (cond: () => boolean, what: string, maxMs = 120_000, stepMs = 100) => {
    const end = clock.now() + maxMs;
    while (!cond()) {
      if (clock.now() >= end) assert.fail(`timed out waiting for ${what}`);
      await clock.advance(stepMs);
    }
  };
  const status = () => registry.gauge("leader_election_master_status", "", ["name"]).get({ name: "op" });
  const ops = (op: string, identity: string) => log.filter((c) => c.op === op && c.identity === identity);
  /** Lets the first two reads through only together, so two candidates act on the same version. */
  const readTogether = () => {
    let reads = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    store.intercept = (c) => {
      log.push({ op: c.op, identity: c.identity, at: clock.now() });
      if (c.op !== "get" || reads >= 2) return;
      if (++reads === 2) open();
      return gate;
    };
  };
  return { clock, store, make, until, status, ops, log, readTogether };
}

describe("leader election: timing rules", () => {
  it("requires lease duration > renew deadline > 1.2 × retry period > 0", () => {
    const lock = new MemoryLockStore().lock("a");
    assert.throws(
      () => new LeaderElector({ lock, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
      /greater than the renew deadline/,
    );
    assert.throws(() => new LeaderElector({ lock, renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }), /1\.2/);
    assert.throws(() => new LeaderElector({ lock, retryPeriodMs: 0 }), /> 0/);
    const e = new LeaderElector({ lock });
    assert.deepEqual(
      [e.leaseDurationMs, e.renewDeadlineMs, e.retryPeriodMs, e.requestTimeoutMs],
      [15_000, 10_000, 2_000, 5_000],
    );
  });
});

describe("leader election: acquiring", () => {
  it("creates the record when there is none: holder, duration in seconds, no transitions, both times now", async () => {
    const { clock, store, make, status } = world();
    await clock.advance(1_234);
    const a = make("a");
    assert.equal(status(), 0, "0 from construction");
    assert.equal(await a.acquire(), true);
    const now = microTime(clock.wallNow());
    assert.deepEqual(store.record, {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    });
    assert.equal(a.isLeader(), true);
    assert.equal(a.leader, "a");
    assert.equal(status(), 1);
  });

  it("two candidates creating at once: one wins, the other's create fails with AlreadyExists and it waits", async () => {
    const { store, make, readTogether, until } = world();
    readTogether();
    const a = make("a"), b = make("b");
    const ac = new AbortController();
    const results = [a.acquire(ac.signal), b.acquire(ac.signal)];
    await until(() => a.isLeader() || b.isLeader(), "a leader");
    const creates = store.calls.filter((c) => c.op === "create");
    assert.equal(creates.length, 2, "both read no record and tried to create it");
    const [won, lost] = creates[0].outcome === "ok" ? creates : [creates[1], creates[0]];
    assert.equal(won.outcome, "ok");
    assert.ok(lost.outcome instanceof AlreadyExistsError, `the loser got ${lost.outcome}`);
    const winner = won.identity === "a" ? a : b, loser = winner === a ? b : a;
    assert.equal(winner.isLeader(), true);
    assert.equal(loser.isLeader(), false);
    assert.equal(loser.leader, undefined, "the loser has not read the record yet");
    assert.equal(store.record?.holderIdentity, winner.identity);
    // The loser keeps polling: it reads the record (and sees the winner) at its next attempt.
    await until(() => loser.leader === winner.identity, "the loser to see the winner", 10_000);
    assert.equal(loser.isLeader(), false);
    ac.abort();
    assert.equal(await results[loser === a ? 0 : 1], false, "an aborted wait resolves false");
  });

  it("two candidates updating a released record from the same version: exactly one wins, the other gets Conflict", async () => {
    const { store, make, readTogether, until } = world();
    store.set({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 4 });
    readTogether();
    const a = make("a"), b = make("b");
    const ac = new AbortController();
    a.acquire(ac.signal);
    b.acquire(ac.signal);
    await until(() => store.calls.filter((c) => c.op === "update" && c.outcome).length === 2, "both updates");
    const updates = store.calls.filter((c) => c.op === "update");
    assert.deepEqual(updates.map((u) => u.outcome === "ok").sort(), [false, true]);
    assert.ok(updates.find((u) => u.outcome !== "ok")!.outcome instanceof ConflictError);
    assert.equal([a, b].filter((e) => e.isLeader()).length, 1);
    assert.equal(store.record?.leaseTransitions, 5, "taking a released lease counts a transition");
    ac.abort();
  });

  it("takes over exactly one lease duration (+1 ms) after it saw the record last change, whatever its timestamps say", async () => {
    const { clock, store, make, ops } = world();
    const hourAgo = microTime(new Date(clock.wallNow().getTime() - 3_600_000));
    const old = {
      holderIdentity: "old",
      leaseDurationSeconds: 15,
      acquireTime: hourAgo,
      leaseTransitions: 2,
    };
    store.set({ ...old, renewTime: hourAgo });
    const b = make("b", { random: () => 0 });
    const won = b.acquire();
    await clock.advance(10_000);
    assert.equal(b.isLeader(), false, "not before 15 s of local observation");
    // The holder renews with a skewed clock: still an hour behind, but the record changed.
    store.set({ ...old, renewTime: microTime(new Date(clock.wallNow().getTime() - 3_600_000 + 1)) });
    await clock.advance(30_000);
    assert.equal(await won, true);
    // Attempts every 2 s (no jitter with random 0): the change is seen at 12 s, expiry at 27 s.
    const reads = ops("get", "b").map((c) => c.at).filter((at) => at <= 27_001);
    assert.deepEqual(reads, [
      0,
      2_000,
      4_000,
      6_000,
      8_000,
      10_000,
      12_000,
      14_000,
      16_000,
      18_000,
      20_000,
      22_000,
      24_000,
      26_000,
      27_001,
    ]);
    assert.equal(ops("update", "b")[0].at, 27_001, "the first write of b is the takeover");
    const taken = store.calls.find((c) => c.op === "update" && c.identity === "b")!.record!;
    assert.equal(taken.holderIdentity, "b");
    assert.equal(taken.leaseTransitions, 3, "takeover: transitions + 1");
    assert.equal(taken.acquireTime, taken.renewTime, "takeover: acquireTime = renewTime = now");
    assert.equal(taken.acquireTime, microTime(new Date(Date.UTC(2026, 0, 1) + 27_001)));
  });

  it("waiting attempts come every retry period × (1 + random), the jitter drawn from the injected source", async () => {
    const { make, ops, until } = world();
    const a = make("a", { leaseDurationMs: 60_000, renewDeadlineMs: 40_000 });
    await a.acquire();
    const draws = [0, 0.5, 0.25, 0.999];
    const b = make("b", {
      random: () => draws.shift() ?? 0.75,
      leaseDurationMs: 60_000,
      renewDeadlineMs: 40_000,
    });
    const ac = new AbortController();
    b.acquire(ac.signal);
    await until(() => ops("get", "b").length === 6, "six attempts by b");
    const at = ops("get", "b").map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    assert.deepEqual(gaps, [2_000, 3_000, 2_500, 3_998, 3_500]);
    // The leader's renewals are not jittered: every retry period exactly.
    const renewals = ops("update", "a").map((c) => c.at);
    assert.deepEqual(renewals.slice(0, 5), [2_000, 4_000, 6_000, 8_000, 10_000]);
    ac.abort();
  });
});

describe("leader election: stopping to wait", () => {
  it("acquire resolves false at once when its signal aborts during an attempt, not a retry period later", async () => {
    const { clock, store, make } = world();
    store.set({ holderIdentity: "other", leaseDurationSeconds: 3600, leaseTransitions: 0 });
    let reading!: () => void;
    const read = new Promise<void>((r) => (reading = r));
    store.intercept = (c) => {
      if (c.op !== "get") return;
      reading();
      // A slow API server: the read ends only when the attempt is cut.
      return new Promise<void>((_, reject) =>
        c.signal.addEventListener("abort", () => reject(c.signal.reason))
      );
    };
    const stop = new AbortController();
    let result: boolean | undefined;
    const acquiring = make("b", { watchLease: false }).acquire(stop.signal).then((r) => (result = r));
    await read;
    stop.abort();
    await flushMicrotasks();
    assert.equal(result, false, "resolved without waiting for fake time to pass");
    assert.equal(clock.pendingTimers, 0, "no retry pause left behind");
    await acquiring;
  });
});

describe("leader election: leading", () => {
  it("renewals every retry period keep acquireTime and leaseTransitions and move renewTime", async () => {
    const { clock, store, make, ops } = world();
    const a = make("a", { random: () => 0.9 });
    await a.acquire();
    const first = store.record!;
    await clock.advance(6_000);
    assert.deepEqual(ops("update", "a").map((c) => c.at), [2_000, 4_000, 6_000]);
    const later = store.record!;
    assert.equal(later.acquireTime, first.acquireTime);
    assert.equal(later.leaseTransitions, first.leaseTransitions);
    assert.equal(later.renewTime, microTime(clock.wallNow()));
    assert.equal(a.isLeader(), true);
  });

  it("renewals that hang are cut at the request timeout; leadership ends at the renew deadline and writes stop", async () => {
    const { clock, store, make, status, until } = world();
    const a = make("a");
    await a.acquire();
    await clock.advance(2_000); // one good renewal at 2 s
    const cut: number[] = [];
    store.intercept = (c) =>
      new Promise<void>((_, reject) => {
        const started = clock.now();
        c.signal.addEventListener("abort", () => {
          cut.push(clock.now() - started);
          reject(c.signal.reason);
        }, { once: true });
      });
    let lostAt = 0;
    a.leadingSignal.addEventListener("abort", () => (lostAt = clock.now()));
    await until(() => lostAt > 0, "loss of leadership", 30_000, 50);
    // Tries at 4 s (cut after 5 s) and 11 s (cut after the 1 s left); the deadline is 2 s + 10 s.
    assert.equal(lostAt, 12_000);
    assert.deepEqual(cut, [5_000, 1_000]);
    assert.equal(a.isLeader(), false);
    assert.equal(status(), 0);
    assert.ok(a.leadingSignal.reason instanceof LeadershipLostError);
    assert.match(a.leadingSignal.reason.message, /leader election lost: no successful renewal/);
    const calls = store.calls.length;
    await clock.advance(60_000);
    assert.equal(store.calls.length, calls, "no lock operation after the loss");
    assert.equal(store.calls.filter((c) => c.op === "update").length, 3, "renewals at 2, 4 and 11 s");
  });

  it("leadership ends at the next renewal when someone else took the record", async () => {
    const { clock, store, make } = world();
    const a = make("a");
    await a.acquire();
    await clock.advance(1_000);
    store.set({ holderIdentity: "intruder", leaseDurationSeconds: 15, leaseTransitions: 1 });
    let lostAt = 0;
    a.leadingSignal.addEventListener("abort", () => (lostAt = clock.now()));
    await clock.advance(1_000);
    assert.equal(lostAt, 2_000);
    assert.match((a.leadingSignal.reason as Error).message, /now held by intruder/);
    assert.equal(a.leader, "intruder");
    assert.equal(store.record?.holderIdentity, "intruder", "the intruder's record was not overwritten");
  });

  it("isLeader() turns false at the renew deadline even before the renew loop notices", async () => {
    const { clock, store, make } = world();
    const a = make("a");
    await a.acquire();
    store.intercept = () => new Promise(() => {});
    clock.jump(9_999);
    assert.equal(a.isLeader(), true);
    clock.jump(1);
    assert.equal(a.isLeader(), false);
  });

  it("healthy() fails once the leader has not renewed for lease duration + tolerance", async () => {
    const { clock, store, make } = world();
    const a = make("a");
    await a.acquire();
    store.intercept = () => new Promise(() => {});
    clock.jump(15_000 + 20_000);
    assert.equal(a.healthy(), true);
    clock.jump(1);
    assert.equal(a.healthy(), false);
  });
});

describe("leader election: releasing", () => {
  it("release hands the record back (empty holder, duration 1, transitions unchanged), retrying a conflict at once", async () => {
    const { clock, store, make, status } = world();
    const a = make("a");
    await a.acquire();
    await clock.advance(5_000);
    const before = store.record!;
    // Another write slips in just before the release: the release re-reads and tries again.
    let slipped = false;
    store.intercept = (c) => {
      if (c.op === "update" && c.record?.holderIdentity === "" && !slipped) {
        slipped = true;
        store.set(store.record);
      }
    };
    const t0 = clock.now();
    await a.release();
    assert.equal(slipped, true);
    assert.equal(clock.now(), t0, "no pause after a conflict");
    const now = microTime(clock.wallNow());
    assert.deepEqual(store.record, {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: before.leaseTransitions,
    });
    assert.equal(a.isLeader(), false);
    assert.equal(status(), 0);
  });

  it("a standby watching the lock takes a released record at once, without waiting for its next attempt", async () => {
    const { clock, store, make } = world();
    const a = make("a"), b = make("b");
    await a.acquire();
    let bWon = false;
    b.acquire().then((v) => (bWon = v));
    await clock.advance(5_000);
    assert.equal(b.leader, "a", "the standby has seen the holder");
    const t0 = clock.now();
    await a.release();
    await flushMicrotasks();
    assert.equal(bWon, true);
    assert.equal(clock.now(), t0, "no fake time passed");
    assert.equal(store.record?.holderIdentity, "b");
    assert.equal(store.record?.leaseTransitions, 1);
  });

  it("without the watch, a standby takes a released record at its next attempt", async () => {
    const { clock, make, ops } = world();
    const a = make("a"), b = make("b", { watchLease: false, random: () => 0.5 });
    await a.acquire();
    let bWon = false;
    b.acquire().then((v) => (bWon = v));
    await clock.advance(4_000); // b tried at 0 and 3 s
    await a.release();
    await flushMicrotasks();
    assert.equal(bWon, false, "nothing wakes the standby before its next attempt");
    await clock.advance(2_000);
    assert.equal(bWon, true);
    assert.deepEqual(ops("update", "b").map((c) => c.at), [6_000]);
  });

  it("release by a candidate that does not lead writes nothing", async () => {
    const { store, make } = world();
    store.set({ holderIdentity: "other", leaseDurationSeconds: 15, leaseTransitions: 0 });
    const b = make("b");
    await b.release();
    assert.equal(store.calls.length, 0);
    assert.equal(store.record?.holderIdentity, "other");
  });
});

describe("leader election: identity", () => {
  it("defaults to POD_NAME plus a random suffix, or the host name without POD_NAME", () => {
    const saved = process.env.POD_NAME;
    try {
      process.env.POD_NAME = "dataflow-operator-7d9f-x2k4q";
      assert.match(defaultIdentity(), /^dataflow-operator-7d9f-x2k4q_[0-9a-f]{8}$/);
      const client = new KubeClient(new FakeApiServer(), { registry: new Registry() });
      const e = new LeaderElector({ client, namespace: "ns", leaseName: "op", registry: new Registry() });
      assert.match(e.identity, /^dataflow-operator-7d9f-x2k4q_[0-9a-f]{8}$/);
      assert.equal(e.lock.identity, e.identity, "the lock writes the elector's identity");
      assert.notEqual(
        defaultIdentity(),
        defaultIdentity(),
        "the suffix tells two processes in one pod apart",
      );
      delete process.env.POD_NAME;
      assert.equal(defaultIdentity().replace(/_[0-9a-f]{8}$/, ""), hostname());
    } finally {
      if (saved === undefined) delete process.env.POD_NAME;
      else process.env.POD_NAME = saved;
    }
  });
});
