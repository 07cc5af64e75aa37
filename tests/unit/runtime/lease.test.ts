/** Lease leader election on the fake API server and a fake clock: scenarios 24-30 of reference/runtime.md §7. */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { LeaderElector, type LeaseRecord, microTime } from "../../../lib/runtime/lease.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";

const LEASES = "coordination.k8s.io/v1/leases";
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let electors: LeaderElector[] = [];
afterEach(() => {
  for (const e of electors) e.stop();
  electors = [];
});

function world() {
  const api = new FakeApiServer();
  const clock = new FakeClock();
  const registry = new Registry();
  const client = new KubeClient(api, { sleep: () => Promise.resolve(), registry: new Registry() });
  const make = (identity: string, extra: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {}) => {
    const e = new LeaderElector({
      client,
      namespace: "ns",
      leaseName: "op",
      identity,
      clock,
      registry,
      ...extra,
    });
    electors.push(e);
    return e;
  };
  const lease = () => api.object(LEASES, "ns", "op") as (KubeObject & { spec: LeaseRecord }) | undefined;
  const until = async (cond: () => boolean, what: string, maxMs = 120_000, stepMs = 100) => {
    const end = clock.now() + maxMs;
    while (clock.now() < end) {
      if (cond()) return;
      await clock.advance(stepMs);
    }
    if (!cond()) assert.fail(`timed out waiting for ${what}`);
  };
  const status = (name = "op") => registry.gauge("leader_election_master_status", "").get({ name });
  return { api, clock, client, make, lease, until, status, registry };
}

describe("leader election", () => {
  it("formats MicroTime with exactly six fractional digits", () => {
    assert.equal(microTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 67))), "2026-01-02T03:04:05.067000Z");
  });

  it("validates lease duration > renew deadline > 1.2 × retry period (scenario 30)", () => {
    const { client } = world();
    const base = { client, namespace: "ns", leaseName: "op", identity: "a" };
    assert.throws(
      () => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
      /greater than the renew deadline/,
    );
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }), /1\.2/);
    assert.throws(() => new LeaderElector({ ...base, retryPeriodMs: 0 }), /> 0/);
    assert.doesNotThrow(() => new LeaderElector(base));
  });

  it("creates the Lease when none exists (scenario 24)", async () => {
    const { api, make, lease, status } = world();
    const a = make("a");
    assert.equal(status(), 0, "0 from construction");
    assert.equal(await a.acquire(), true);
    assert.equal(api.count("POST"), 1);
    const l = lease()!;
    assert.equal(l.spec.holderIdentity, "a");
    assert.equal(l.spec.leaseDurationSeconds, 15);
    assert.equal(l.spec.leaseTransitions, 0);
    assert.match(l.spec.acquireTime!, MICRO);
    assert.match(l.spec.renewTime!, MICRO);
    assert.equal(a.isLeader(), true);
    assert.equal(status(), 1);
  });

  it("two candidates racing to create: one wins, the other gets AlreadyExists and retries every 2-4 s (scenario 24)", async () => {
    const { api, clock, make, until } = world();
    const a = make("a"), b = make("b");
    const pa = a.acquire();
    const ac = new AbortController();
    let bResult: boolean | undefined;
    b.acquire(ac.signal).then((v) => (bResult = v));
    assert.equal(await pa, true);
    const posts = api.requests.filter((r) => r.verb === "POST").length;
    assert.ok(posts >= 1);
    // b keeps trying: count its GETs over 30 s.
    const getsBefore = api.count("GET");
    const t0 = clock.now();
    await clock.advance(30_000);
    const bGets = api.count("GET") - getsBefore;
    // a renews every 2 s with PUTs (fast path, no GET); b's attempts are GETs every 2-4.4 s.
    assert.ok(
      bGets >= 30_000 / 4_400 - 1 && bGets <= 30_000 / 2_000 + 1,
      `${bGets} attempts in ${clock.now() - t0} ms`,
    );
    assert.equal(b.isLeader(), false);
    ac.abort();
    await until(() => bResult !== undefined, "b to give up");
    assert.equal(bResult, false);
  });

  it("two candidates updating an expired lease with the same resourceVersion: exactly one wins (scenario 25)", async () => {
    const { api, make, lease } = world();
    api.put(LEASES, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "ns" },
      spec: { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 4 },
    });
    let gets = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    api.intercept = async (r) => {
      if (r.verb === "GET" && ++gets === 2) open();
      if (r.verb === "PUT") await gate;
      return undefined;
    };
    const a = make("a"), b = make("b");
    const ac = new AbortController();
    const results = await Promise.race([
      Promise.all([a.acquire(ac.signal), b.acquire(ac.signal)]),
      new Promise<"one">((resolve) => {
        const check = setInterval(() => {
          if (a.isLeader() !== b.isLeader()) {
            clearInterval(check);
            resolve("one");
          }
        }, 1);
      }),
    ]);
    assert.equal(results, "one");
    const puts = api.requests.filter((r) => r.verb === "PUT");
    assert.equal(puts.length, 2);
    assert.equal(
      JSON.parse(puts[0].body!).metadata.resourceVersion,
      JSON.parse(puts[1].body!).metadata.resourceVersion,
    );
    assert.equal(lease()!.spec.leaseTransitions, 5, "taking a released lease counts a transition");
    assert.equal([a, b].filter((e) => e.isLeader()).length, 1);
    ac.abort();
  });

  it("waits a full lease duration of local time before taking over, whatever the record's timestamps say (scenario 26)", async () => {
    const { api, clock, make, until, lease } = world();
    const hourAgo = microTime(new Date(clock.wallNow().getTime() - 3_600_000));
    const put = (renewTime: string) =>
      api.put(LEASES, {
        ...(lease() ??
          { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "op", namespace: "ns" } }),
        spec: {
          holderIdentity: "old",
          leaseDurationSeconds: 15,
          acquireTime: hourAgo,
          renewTime,
          leaseTransitions: 2,
        },
      });
    put(hourAgo);
    const b = make("b");
    const ac = new AbortController();
    const won = b.acquire(ac.signal);
    await clock.advance(10_000);
    assert.equal(b.isLeader(), false, "not before 15 s of local observation");
    put(microTime(new Date(clock.wallNow().getTime() - 3_600_000 + 1))); // the holder renewed (skewed clock)
    const changedAt = clock.now();
    await until(() => b.isLeader(), "takeover", 60_000);
    const waited = clock.now() - changedAt;
    assert.ok(waited >= 15_000, `took over ${waited} ms after the record last changed`);
    // Seen at the next attempt (< 2 retry periods), then exactly at the end of 15 s of observation:
    // a crashed leader is replaced within lease duration + 2 retry periods.
    assert.ok(waited <= 15_000 + 2 * 2_000 + 200, `took over ${waited} ms after the change`);
    assert.equal(await won, true);
    const l = lease()!;
    assert.equal(l.spec.holderIdentity, "b");
    assert.equal(l.spec.leaseTransitions, 3, "takeover: transitions + 1 (scenario 28)");
    assert.equal(l.spec.acquireTime, l.spec.renewTime, "takeover: acquireTime = now (scenario 28)");
  });

  it("renewals keep acquireTime and leaseTransitions and move renewTime (scenario 28)", async () => {
    const { clock, make, lease } = world();
    const a = make("a");
    await a.acquire();
    const first = lease()!.spec;
    await clock.advance(2_100);
    await clock.advance(2_100);
    const later = lease()!.spec;
    assert.equal(later.acquireTime, first.acquireTime);
    assert.equal(later.leaseTransitions, first.leaseTransitions);
    assert.notEqual(later.renewTime, first.renewTime);
    assert.equal(a.isLeader(), true);
  });

  it("a leader whose renewals hang cuts each request at 5 s and gives up after 10 s, inside the lease (scenario 27)", async () => {
    const { api, clock, make, status, until } = world();
    const a = make("a");
    await a.acquire();
    await clock.advance(2_100);
    const lastGood = clock.now();
    const cut: number[] = [];
    api.intercept = (r) =>
      new Promise((_, reject) => {
        const started = clock.now();
        r.signal?.addEventListener("abort", () => {
          cut.push(clock.now() - started);
          reject(r.signal!.reason);
        }, { once: true });
      });
    let lostAt = 0;
    a.leadingSignal.addEventListener("abort", () => (lostAt = clock.now()));
    await until(() => lostAt > 0, "loss of leadership", 30_000, 50);
    const after = lostAt - lastGood;
    assert.ok(after <= 10_000 + 200, `gave up ${after} ms after the last renewal`);
    assert.ok(after < 15_000, "before the lease could expire for others");
    assert.ok(cut.length >= 1 && cut.every((ms) => ms <= 5_000 + 1), `cut after ${cut}`);
    assert.equal(a.isLeader(), false);
    assert.equal(status(), 0);
    assert.match(String((a.leadingSignal.reason as Error).message), /leader election lost/);
  });

  it("isLeader() turns false at the renew deadline even before the renew loop notices", async () => {
    const { api, clock, make } = world();
    const a = make("a", { renewDeadlineMs: 10_000 });
    await a.acquire();
    // Requests hang forever with no deadline effect visible to isLeader: it is purely clock-based.
    api.intercept = () => new Promise(() => {});
    clock.jump(10_001);
    assert.equal(a.isLeader(), false);
  });

  it("release hands the lease back (empty holder, duration 1, transitions unchanged); a standby takes it at its next attempt (scenario 29)", async () => {
    const { api, clock, make, lease, until } = world();
    const a = make("a"), b = make("b");
    await a.acquire();
    const ac = new AbortController();
    let bWon = false;
    b.acquire(ac.signal).then((v) => (bWon = v));
    await clock.advance(5_000);
    const transitions = lease()!.spec.leaseTransitions;
    // A conflicting write slips in just before the release: it must retry.
    let conflicted = false;
    api.intercept = (r) => {
      if (r.verb === "PUT" && !conflicted && JSON.parse(r.body!).spec.holderIdentity === "") {
        conflicted = true;
        api.put(LEASES, lease()!);
      }
      return undefined;
    };
    await a.release();
    assert.equal(conflicted, true);
    const released = lease()!.spec;
    assert.equal(released.holderIdentity, "");
    assert.equal(released.leaseDurationSeconds, 1);
    assert.equal(released.leaseTransitions, transitions);
    assert.equal(a.isLeader(), false);
    const t0 = clock.now();
    await until(() => bWon, "the standby to take over", 10_000, 50);
    // The standby watches the Lease, so it tries as soon as it sees the release.
    assert.ok(clock.now() - t0 <= 200, `standby took ${clock.now() - t0} ms`);
    assert.equal(lease()!.spec.leaseTransitions, (transitions ?? 0) + 1);
  });

  it("default identity comes from POD_NAME or the host name plus a random suffix", () => {
    const { make } = world();
    const e = make(undefined as unknown as string);
    assert.match(e.identity, /^.+_[0-9a-f]{8}$/);
  });
});

describe("leader election that cannot work", () => {
  afterEach(() => configureLogging({ level: "fatal", write: () => {} }));

  it("a 403 on the Lease is an error once per cause and a readiness problem, cleared when granted", async () => {
    const lines: { level: string; message: string }[] = [];
    configureLogging({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l)) });
    const { api, make, until, clock } = world();
    let forbidden = true;
    api.intercept = (req) =>
      forbidden && req.path.includes("/leases")
        ? statusResponse(
          403,
          "Forbidden",
          `leases.coordination.k8s.io "op" is forbidden: User "a" cannot get`,
        )
        : undefined;
    const a = make("a");
    const acquiring = a.acquire();
    await until(() => a.problem !== undefined, "the problem reported");
    assert.match(
      a.problem!,
      /cannot take Lease ns\/op: .*forbidden.*; grant get, create and update on leases in ns/,
    );
    // Several more attempts: still one ERROR line.
    await clock.advance(20_000);
    assert.equal(lines.filter((l) => l.level === "ERROR").length, 1, JSON.stringify(lines));
    forbidden = false;
    await until(() => a.isLeader(), "leading once the Lease is granted");
    assert.equal(await acquiring, true);
    assert.equal(a.problem, undefined);
  });
});
