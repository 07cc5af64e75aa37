/**
 * Lease leader election against the real API server: two candidates in one process, then two
 * operator processes competing for one Lease. Exactly one writes at any time; after SIGKILL the
 * standby waits out the full lease duration after the last renewal and then takes over; after
 * SIGTERM the leader releases and the standby takes over before the old lease could have expired;
 * a leader cut off from the API server (a TCP proxy that blackholes it) stops before its lease
 * expires and exits non-zero. The tests wait for conditions (lines of the processes, versions of
 * the Lease seen by a watch) and check the order of events; how fast each step comes is checked
 * on a fake clock in tests/unit/runtime/lease.test.ts (docs/behaviour/leader-election.md).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import type { LeaseRecord } from "../../../lib/runtime/leader-lock.ts";
import { LeaderElector } from "../../../lib/runtime/lease.ts";
import { type ControlPlane, writeKubeconfig } from "../../controlplane/harness.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import { TcpProxy } from "../../tools/tcp-proxy.ts";
import { waitFor } from "../../tools/wait.ts";
import { type ChildEvent, OperatorChild } from "./child.ts";

const L = 6_000, RD = 4_000, R = 1_000;
const LEASE = "runtime-test";
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
/** Generous deadlines of waits: they only bound a failing test, they assert no speed. */
const TAKEOVER_WAIT = L + 4 * R + 30_000;

let cp: ControlPlane;
const children: OperatorChild[] = [];
const proxies: TcpProxy[] = [];
const histories: LeaseHistory[] = [];
before(async () => {
  cp = await testControlPlane();
});
after(async () => {
  for (const h of histories) await h.stop();
  for (const c of children) await c.stop();
  for (const p of proxies) await p.close();
});

/** Every version of the test Lease in a namespace, in order, from a watch that runs until stopped. */
class LeaseHistory {
  readonly records: LeaseRecord[] = [];
  readonly #ac = new AbortController();
  readonly #done: Promise<void>;

  constructor(readonly namespace: string) {
    this.#done = this.#run();
    histories.push(this);
  }

  async #run(): Promise<void> {
    let resourceVersion: string | undefined;
    while (!this.#ac.signal.aborted) {
      try {
        const events = clientFor(cp).watch<KubeObject & { spec?: LeaseRecord }>(builtin.Lease, {
          namespace: this.namespace,
          fieldSelector: `metadata.name=${LEASE}`,
          resourceVersion,
          timeoutSeconds: 600,
          signal: this.#ac.signal,
        });
        for await (const ev of events) {
          if (ev.type !== "ADDED" && ev.type !== "MODIFIED") continue;
          this.records.push({ ...ev.object.spec });
          resourceVersion = ev.object.metadata?.resourceVersion;
        }
      } catch (err) {
        if (this.#ac.signal.aborted) return;
        // Resume from the last version seen after a pause (a backoff, not a synchronisation).
        console.error(`lease history: watch failed, resuming: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** The records written by `identity` as holder. */
  held(identity: string): LeaseRecord[] {
    return this.records.filter((r) => r.holderIdentity === identity);
  }

  /** Renewals by `identity` stamped after `wallMs`. */
  renewalsAfter(identity: string, wallMs: number): LeaseRecord[] {
    return this.held(identity).filter((r) => Date.parse(r.renewTime!) > wallMs);
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    await this.#done;
  }
}

async function workload(prefix: string): Promise<string> {
  const ns = await freshNamespace(cp, prefix);
  const admin = clientFor(cp);
  for (const n of ["w1", "w2"]) {
    await admin.create(builtin.ConfigMap, {
      metadata: { name: n, namespace: ns, labels: { "runtime-test": "work" } },
    });
    await admin.create(builtin.ConfigMap, { metadata: { name: `ledger-${n}`, namespace: ns } });
  }
  return ns;
}

async function kubeconfig(server: string, name: string): Promise<string> {
  const path = join(cp.info.dir, `runtime-${name}-${Date.now().toString(36)}.kubeconfig`);
  await writeKubeconfig(path, server, cp.info.caPath, {
    name: "admin",
    cert: cp.info.admin.cert,
    key: cp.info.admin.key,
  });
  return path;
}

function spawnChild(
  identity: string,
  ns: string,
  server = cp.info.server,
  kc?: Promise<string>,
): Promise<OperatorChild> {
  return (kc ?? kubeconfig(server, identity)).then((path) => {
    const c = new OperatorChild(identity, {
      RT_KUBECONFIG: path,
      RT_NAMESPACE: ns,
      RT_LEASE: LEASE,
      RT_LEASE_MS: String(L),
      RT_RENEW_MS: String(RD),
      RT_RETRY_MS: String(R),
    }, join(cp.info.dir, `${identity}.log`));
    children.push(c);
    return c;
  });
}

/** Writes (attempts) of a child, by time. */
const writes = (c: OperatorChild) => c.of("write").map((e) => e.at);

/** Waits until `standby`'s elector has read the Lease and seen `leader` hold it. */
function seesHolder(standby: OperatorChild, leader: OperatorChild): Promise<ChildEvent> {
  return waitFor(
    `${standby.identity} to see ${leader.identity} hold the Lease`,
    () => standby.of("holder").find((e) => e.holder === leader.identity),
    { timeoutMs: 60_000, describe: () => JSON.stringify(standby.events.slice(-8)) },
  );
}

/** Asserts that the two children's write windows never interleave: every write of `first` precedes every write of `second`. */
function assertNoOverlap(first: OperatorChild, second: OperatorChild, secondLeadingAt: number) {
  const lastOfFirst = Math.max(0, ...writes(first));
  const firstOfSecond = Math.min(...writes(second));
  assert.ok(
    lastOfFirst < secondLeadingAt,
    `${first.identity} wrote at ${lastOfFirst}, after ${second.identity} led at ${secondLeadingAt}`,
  );
  assert.ok(lastOfFirst < firstOfSecond, "writes of the two replicas overlap");
}

describe("leader election: two candidates in one process (real API server)", () => {
  it("creates a Lease with MicroTime the server accepts; a standby waits while it is held and takes a release from its watch", async () => {
    const ns = await freshNamespace(cp, "lease");
    const registry = new Registry();
    const mk = (identity: string, clock?: FakeClock) =>
      new LeaderElector({
        client: clientFor(cp),
        namespace: ns,
        leaseName: "op",
        identity,
        leaseDurationMs: L,
        renewDeadlineMs: RD,
        retryPeriodMs: R,
        registry,
        clock,
      });
    const read = async () =>
      (await clientFor(cp).get<{ spec: LeaseRecord }>(builtin.Lease, "op", { namespace: ns })).spec;
    const a = mk("a");
    assert.equal(await a.acquire(), true);
    const created = await read();
    assert.equal(created.holderIdentity, "a");
    assert.match(created.acquireTime!, MICRO);
    assert.equal(created.renewTime, created.acquireTime);
    assert.equal(created.leaseDurationSeconds, L / 1000);
    assert.equal(created.leaseTransitions, 0);

    // The standby's timers run on a fake clock that never moves: its next poll never comes, so
    // only its watch on the Lease can wake it when the lease is released.
    const b = mk("b", new FakeClock());
    let bWon: boolean | undefined;
    const bRun = b.acquire().then((v) => (bWon = v));
    await waitFor("the standby to see a hold the Lease", () => b.leader === "a");
    const seenAt = Date.now();
    await waitFor(
      "a renewal by a more than a retry period later",
      async () => Date.parse((await read()).renewTime!) > seenAt + R,
    );
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    assert.equal(bWon, undefined, "the standby is still waiting");

    const held = await read();
    await a.release();
    await waitFor("the standby to take the released lease", () => bWon);
    await bRun;
    const taken = await read();
    assert.equal(taken.holderIdentity, "b");
    assert.equal(taken.leaseTransitions, (held.leaseTransitions ?? 0) + 1);
    assert.equal(taken.acquireTime, taken.renewTime);
    b.stop();
  });
});

describe("leader election: two operator processes (real API server)", () => {
  it("exactly one writes; after SIGKILL the standby waits out the lease from the last renewal, then takes over", async () => {
    const ns = await workload("le-kill");
    const history = new LeaseHistory(ns);
    const [a, b] = await Promise.all([spawnChild("kill-a", ns), spawnChild("kill-b", ns)]);
    const first = await Promise.race([a.waitFor("leading"), b.waitFor("leading")]);
    const leader = first.identity === a.identity ? a : b, standby = leader === a ? b : a;
    await leader.waitFor("write-ok");
    const seen = await seesHolder(standby, leader);
    await waitFor(
      "two renewals after the standby saw the holder",
      () => history.renewalsAfter(leader.identity, seen.at).length >= 2,
    );
    assert.equal(standby.of("write").length, 0, "the standby never writes");
    assert.equal(standby.leading, false);

    const killedAt = Date.now();
    leader.kill("SIGKILL");
    await leader.exited;
    const lead = await standby.waitFor("leading", TAKEOVER_WAIT);
    const taken = await waitFor("the takeover in the Lease", () => history.held(standby.identity)[0]);
    const last = history.held(leader.identity).at(-1)!;
    const waited = Date.parse(taken.acquireTime!) - Date.parse(last.renewTime!);
    // Same host, same wall clock: MicroTime rounding aside, never before a full lease duration.
    assert.ok(waited >= L - 5, `took over ${waited} ms after the last renewal (lease ${L} ms)`);
    assert.equal(taken.leaseTransitions, (last.leaseTransitions ?? 0) + 1);
    await standby.waitFor("write-ok", TAKEOVER_WAIT, killedAt);
    assertNoOverlap(leader, standby, lead.at);
    standby.kill("SIGTERM");
    assert.equal((await standby.exited).code, 0);
  });

  it("after SIGTERM the leader drains, releases and exits 0; the standby takes over before the old lease could expire", async () => {
    const ns = await workload("le-term");
    const history = new LeaseHistory(ns);
    const a = await spawnChild("term-a", ns);
    await a.waitFor("leading");
    const b = await spawnChild("term-b", ns);
    await seesHolder(b, a);
    assert.equal(b.leading, false);
    const termAt = Date.now();
    a.kill("SIGTERM");
    const bLead = await b.waitFor("leading", TAKEOVER_WAIT);
    const ex = await a.exited;
    assert.equal(
      ex.code,
      0,
      `graceful shutdown exits 0: ${JSON.stringify(ex)} ${JSON.stringify(a.events.slice(-5))}`,
    );
    const taken = await waitFor("the takeover in the Lease", () => history.held(b.identity)[0]);
    const lastOfA = history.held(a.identity).at(-1)!;
    const at = history.records.indexOf(lastOfA);
    const released = history.records[at + 1];
    assert.equal(released.holderIdentity, "", "a handed the lease back");
    assert.equal(released.leaseDurationSeconds, 1);
    assert.equal(released.leaseTransitions, lastOfA.leaseTransitions);
    assert.ok(
      Date.parse(taken.acquireTime!) < Date.parse(lastOfA.renewTime!) + L,
      "only a release lets the standby in before the lease expires",
    );
    await b.waitFor("write-ok", TAKEOVER_WAIT, termAt);
    assertNoOverlap(a, b, bLead.at);
    const lastAWrite = a.of("write-ok").at(-1) as ChildEvent;
    assert.ok(lastAWrite.at < bLead.at);
    b.kill("SIGTERM");
    assert.equal((await b.exited).code, 0);
  });

  it("a leader cut off from the API server stops writing before its lease expires and exits non-zero", async () => {
    const ns = await workload("le-cut");
    const history = new LeaseHistory(ns);
    const proxy = await TcpProxy.start({ target: cp.info.server });
    proxies.push(proxy);
    const a = await spawnChild("cut-a", ns, proxy.url);
    await a.waitFor("leading");
    await a.waitFor("write-ok");
    const b = await spawnChild("cut-b", ns);
    await seesHolder(b, a);
    proxy.blackhole();
    const lost = await a.waitFor("not-leading", TAKEOVER_WAIT);
    const ex = await a.exited;
    assert.notEqual(ex.code, 0, "a replica that lost its lease exits non-zero");
    const bLead = await b.waitFor("leading", TAKEOVER_WAIT);
    const taken = await waitFor("the takeover in the Lease", () => history.held(b.identity)[0]);
    // a's last renewal that reached the server is the last one b can have seen.
    const lastOfA = history.held(a.identity).at(-1)!;
    const expiry = Date.parse(lastOfA.renewTime!) + L;
    assert.ok(lost.at < expiry, `a stopped leading ${expiry - lost.at} ms before its lease could expire`);
    assert.ok(lost.at < bLead.at, "a stopped before b took over");
    assert.ok(Date.parse(taken.acquireTime!) >= expiry - 5, "b waited out a's lease");
    const aWrites = writes(a);
    assert.ok(aWrites.every((t) => t <= lost.at), "no write was attempted after leadership was lost");
    await b.waitFor("write-ok", TAKEOVER_WAIT, bLead.at);
    assertNoOverlap(a, b, bLead.at);
    b.kill("SIGTERM");
    assert.equal((await b.exited).code, 0);
  });
});
