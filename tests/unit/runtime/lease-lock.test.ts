/**
 * The Lease lock on the fake API server: what the Lease object holds, optimistic concurrency on
 * its resourceVersion (AlreadyExists, Conflict), the watch that wakes a waiting candidate, and
 * refusals that will not fix themselves (403, a missing namespace) as a readiness problem.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
} from "../../../lib/kube/errors.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { type LeaseRecord, microTime } from "../../../lib/runtime/leader-lock.ts";
import { LeaseLock } from "../../../lib/runtime/lease-lock.ts";
import { LeaderElector } from "../../../lib/runtime/lease.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";
import { waitFor } from "../../tools/wait.ts";

const LEASES = "coordination.k8s.io/v1/leases";
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const signal = new AbortController().signal;
const record = (holderIdentity: string, leaseTransitions = 0): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds: 15,
  acquireTime: "2026-01-01T00:00:00.000000Z",
  renewTime: "2026-01-01T00:00:00.000000Z",
  leaseTransitions,
});

let electors: LeaderElector[] = [];
afterEach(() => {
  for (const e of electors) e.stop();
  electors = [];
});

function world() {
  const api = new FakeApiServer();
  const clock = new FakeClock();
  const client = new KubeClient(api, { sleep: () => Promise.resolve(), registry: new Registry() });
  const lock = (identity: string) =>
    new LeaseLock({ client, namespace: "ns", name: "op", identity, clock, registry: new Registry() });
  const lease = () => api.object(LEASES, "ns", "op") as (KubeObject & { spec: LeaseRecord }) | undefined;
  return { api, clock, client, lock, lease };
}

describe("the Lease lock", () => {
  it("formats MicroTime with exactly six fractional digits", () => {
    assert.equal(microTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 67))), "2026-01-02T03:04:05.067000Z");
  });

  it("needs a name and a namespace", () => {
    const { client } = world();
    assert.throws(() => new LeaseLock({ client, namespace: "ns", name: "", identity: "a" }), /lease name/);
    assert.throws(() => new LeaseLock({ client, namespace: "", name: "op", identity: "a" }), /namespace/);
  });

  it("creates a coordination.k8s.io/v1 Lease whose spec is the record", async () => {
    const { api, lock, lease } = world();
    const a = lock("a");
    assert.equal(await a.get(signal), undefined, "no Lease yet");
    await a.create(record("a"), signal);
    const l = lease()!;
    assert.equal(l.apiVersion, "coordination.k8s.io/v1");
    assert.equal(l.kind, "Lease");
    assert.deepEqual([l.metadata?.namespace, l.metadata?.name], ["ns", "op"]);
    assert.deepEqual(l.spec, record("a"));
    assert.equal(api.count("POST"), 1);
    assert.equal(a.describe(), "ns/op");
  });

  it("retries a failed request after a pause on its own clock", async () => {
    const { api, clock, lock } = world();
    let failures = 1;
    api.intercept = () =>
      failures-- > 0 ? statusResponse(503, "ServiceUnavailable", "the API server is restarting") : undefined;
    let read = false;
    const got = lock("a").get(signal).finally(() => (read = true));
    await clock.advance(1_000); // the lock's retries wait 100 ms doubling to 1 s
    assert.ok(read, "retried within a second of the lock's (fake) clock");
    assert.equal(await got, undefined);
    assert.equal(api.requests.length, 2);
  });

  it("a second create of the Lease fails with AlreadyExists", async () => {
    const { lock } = world();
    const a = lock("a"), b = lock("b");
    assert.equal(await a.get(signal), undefined);
    assert.equal(await b.get(signal), undefined);
    await a.create(record("a"), signal);
    await assert.rejects(b.create(record("b"), signal), AlreadyExistsError);
    assert.deepEqual(await b.get(signal), record("a"));
  });

  it("updates carry the resourceVersion last seen: a stale handle gets Conflict; unknown spec fields are kept", async () => {
    const { api, lock, lease } = world();
    const a = lock("a"), b = lock("b");
    await assert.rejects(a.update(record("a"), signal), /update before get or create/);
    api.put(LEASES, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "ns" },
      spec: { ...record(""), preferredHolder: "b" },
    });
    await a.get(signal);
    await b.get(signal);
    await a.update(record("a", 1), signal);
    await assert.rejects(b.update(record("b", 1), signal), ConflictError);
    const put = JSON.parse(api.requests.filter((r) => r.verb === "PUT")[0].body!);
    assert.ok(put.metadata.resourceVersion, "the update is conditional on a resourceVersion");
    assert.deepEqual(lease()!.spec, { ...record("a", 1), preferredHolder: "b" });
    await a.update(record("a", 1), signal); // a's handle saw its own write: no conflict
  });

  it("watch reports each new record and a deletion, until its signal aborts", async () => {
    const { api, lock } = world();
    const seen: (string | undefined)[] = [];
    const ac = new AbortController();
    const done = lock("a").watch(ac.signal, (r) => seen.push(r ? r.holderIdentity : undefined));
    const put = (holder: string) =>
      api.put(LEASES, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "op", namespace: "ns" },
        spec: record(holder),
      });
    const until = (n: number) => waitFor(`${n} changes`, () => seen.length >= n, { intervalMs: 1 });
    await waitFor("the watch", () => api.count("WATCH") > 0, { intervalMs: 1 });
    put("x");
    await until(1);
    put("");
    await until(2);
    api.remove(LEASES, "ns", "op");
    await until(3);
    assert.deepEqual(seen, ["x", "", undefined]);
    ac.abort();
    await done;
  });

  it("names a 403 and a missing namespace as problems with their fix; other errors are transient", () => {
    const { lock } = world();
    const a = lock("a");
    const forbidden = new ForbiddenError("leases is forbidden", { code: 403, reason: "Forbidden" });
    assert.match(
      a.problem(forbidden)!,
      /^cannot take Lease ns\/op: leases is forbidden; grant get, create and update on leases in ns/,
    );
    const missing = new NotFoundError('namespaces "ns" not found', { code: 404, reason: "NotFound" });
    assert.match(
      a.problem(missing)!,
      /create namespace ns or choose another with --leader-election-namespace/,
    );
    assert.equal(a.problem(new ConflictError("modified", { code: 409, reason: "Conflict" })), undefined);
    assert.equal(a.problem(new Error("connection reset")), undefined);
  });
});

describe("leader election on a Lease", () => {
  afterEach(() => configureLogging({ level: "fatal", write: () => {} }));

  it("acquires, renews and releases: the Lease's spec through one term", async () => {
    const { api, clock, client, lease } = world();
    const a = new LeaderElector({
      client,
      namespace: "ns",
      leaseName: "op",
      identity: "a",
      clock,
      registry: new Registry(),
    });
    electors.push(a);
    assert.equal(await a.acquire(), true);
    const created = lease()!.spec;
    assert.equal(created.holderIdentity, "a");
    assert.equal(created.leaseDurationSeconds, 15);
    assert.equal(created.leaseTransitions, 0);
    assert.match(created.acquireTime!, MICRO);
    assert.equal(created.renewTime, created.acquireTime);
    await clock.advance(2_000);
    const renewed = lease()!.spec;
    assert.equal(renewed.acquireTime, created.acquireTime);
    assert.equal(renewed.renewTime, microTime(clock.wallNow()));
    assert.equal(api.count("GET"), 1, "renewals update the Lease they hold without reading it again");
    await a.release();
    assert.deepEqual(
      [lease()!.spec.holderIdentity, lease()!.spec.leaseDurationSeconds, lease()!.spec.leaseTransitions],
      ["", 1, 0],
    );
  });

  it("a 403 on the Lease is an error once per cause and a readiness problem, cleared when granted", async () => {
    const lines: { level: string; message: string }[] = [];
    configureLogging({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l)) });
    const { api, clock, client } = world();
    let forbidden = true;
    api.intercept = (req) =>
      forbidden && req.path.includes("/leases")
        ? statusResponse(
          403,
          "Forbidden",
          `leases.coordination.k8s.io "op" is forbidden: User "a" cannot get`,
        )
        : undefined;
    const a = new LeaderElector({
      client,
      namespace: "ns",
      leaseName: "op",
      identity: "a",
      clock,
      registry: new Registry(),
    });
    electors.push(a);
    const acquiring = a.acquire();
    while (a.problem === undefined) await clock.advance(100);
    assert.match(
      a.problem!,
      /cannot take Lease ns\/op: .*forbidden.*; grant get, create and update on leases in ns/,
    );
    const attempts = api.count("GET");
    await clock.advance(20_000);
    assert.ok(api.count("GET") >= attempts + 5, "it kept trying");
    const errors = lines.filter((l) => l.level === "ERROR");
    assert.equal(errors.length, 1, JSON.stringify(lines));
    assert.match(errors[0].message, /cannot take Lease ns\/op/);
    assert.equal(
      lines.filter((l) => l.level === "WARN" && /cannot watch Lease/.test(l.message)).length,
      1,
    );
    forbidden = false;
    while (!a.isLeader()) await clock.advance(100);
    assert.equal(await acquiring, true);
    assert.equal(a.problem, undefined);
  });
});
