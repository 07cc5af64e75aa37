/**
 * Lease leader election against the real API server: two candidates in one process, then two
 * operator processes competing for one Lease: exactly one writes at any time; takeover after
 * SIGKILL within lease duration + 2 retry periods; after SIGTERM within 2 s; and a leader cut
 * off from the API server (a TCP proxy that blackholes it) stops writing before its lease
 * expires and exits non-zero.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { LeaderElector, type LeaseRecord } from "../../../lib/runtime/lease.ts";
import { type ControlPlane, writeKubeconfig } from "../../controlplane/harness.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import { TcpProxy } from "../../tools/tcp-proxy.ts";
import { type ChildEvent, OperatorChild } from "./child.ts";

const L = 6_000, RD = 4_000, R = 1_000;
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let cp: ControlPlane;
const children: OperatorChild[] = [];
const proxies: TcpProxy[] = [];
before(async () => {
  cp = await testControlPlane();
});
after(async () => {
  for (const c of children) await c.stop();
  for (const p of proxies) await p.close();
});

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
      RT_LEASE: "runtime-test",
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
  it("creates a Lease with MicroTime the server accepts; one leads; a release hands over at once", async () => {
    const ns = await freshNamespace(cp, "lease");
    const registry = new Registry();
    const mk = (id: string) =>
      new LeaderElector({
        client: clientFor(cp),
        namespace: ns,
        leaseName: "op",
        identity: id,
        leaseDurationMs: L,
        renewDeadlineMs: RD,
        retryPeriodMs: R,
        registry,
      });
    const a = mk("a"), b = mk("b");
    const ac = new AbortController();
    const runs = new Map([[a, a.acquire(ac.signal)], [b, b.acquire(ac.signal)]]);
    const [first] = await Promise.race([runs.get(a)!.then(() => [a]), runs.get(b)!.then(() => [b])]);
    const second = first === a ? b : a;
    let secondWon = false;
    const secondRun = runs.get(second)!.then((v) => (secondWon = v));
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(first.isLeader(), true);
    assert.equal(second.isLeader(), false);
    const lease = await clientFor(cp).get<{ spec: LeaseRecord }>(builtin.Lease, "op", { namespace: ns });
    assert.equal(lease.spec.holderIdentity, first.identity);
    assert.match(lease.spec.renewTime!, MICRO);
    assert.match(lease.spec.acquireTime!, MICRO);
    assert.equal(lease.spec.leaseDurationSeconds, L / 1000);
    const t0 = Date.now();
    await first.release();
    await secondRun;
    const took = Date.now() - t0;
    assert.equal(secondWon, true);
    assert.ok(took < 1_000, `the standby took ${took} ms to take a released lease`);
    const after = await clientFor(cp).get<{ spec: LeaseRecord }>(builtin.Lease, "op", { namespace: ns });
    assert.equal(after.spec.holderIdentity, second.identity);
    assert.equal(after.spec.leaseTransitions, (lease.spec.leaseTransitions ?? 0) + 1);
    second.stop();
    ac.abort();
  });
});

describe("leader election: two operator processes (real API server)", () => {
  it("exactly one writes; after SIGKILL the standby takes over within lease duration + 2 retry periods", async () => {
    const ns = await workload("le-kill");
    const [a, b] = await Promise.all([spawnChild("kill-a", ns), spawnChild("kill-b", ns)]);
    const first = await Promise.race([a.waitFor("leading"), b.waitFor("leading")]);
    const leader = first.identity === a.identity ? a : b, standby = leader === a ? b : a;
    await leader.waitFor("write-ok");
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(standby.of("write").length, 0, "the standby never writes");
    assert.equal(standby.leading, false);
    const killedAt = Date.now();
    leader.kill("SIGKILL");
    await leader.exited;
    const took = (await standby.waitFor("leading", L + 4 * R + 5_000)).at - killedAt;
    assert.ok(took <= L + 2 * R + 500, `takeover ${took} ms after SIGKILL (limit ${L + 2 * R})`);
    assert.ok(took >= L - R - 500, `takeover after ${took} ms: before the lease could have expired`);
    await standby.waitFor("write-ok", 10_000, killedAt);
    assertNoOverlap(leader, standby, standby.of("leading")[0].at);
    standby.kill("SIGTERM");
    assert.equal((await standby.exited).code, 0);
  });

  it("after SIGTERM the leader drains, releases and exits 0; the standby takes over within 2 s", async () => {
    const ns = await workload("le-term");
    const a = await spawnChild("term-a", ns);
    await a.waitFor("leading");
    const b = await spawnChild("term-b", ns);
    await b.waitFor("started");
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(b.leading, false);
    const termAt = Date.now();
    a.kill("SIGTERM");
    const bLead = await b.waitFor("leading", 10_000);
    const ex = await a.exited;
    assert.equal(
      ex.code,
      0,
      `graceful shutdown exits 0: ${JSON.stringify(ex)} ${JSON.stringify(a.events.slice(-5))}`,
    );
    assert.ok(bLead.at - termAt <= 2_000, `standby took over ${bLead.at - termAt} ms after SIGTERM`);
    await b.waitFor("write-ok", 10_000, termAt);
    assertNoOverlap(a, b, bLead.at);
    const lastAWrite = a.of("write-ok").at(-1) as ChildEvent;
    assert.ok(lastAWrite.at < bLead.at);
    b.kill("SIGTERM");
    assert.equal((await b.exited).code, 0);
  });

  it("a leader cut off from the API server stops writing before its lease expires and exits non-zero", async () => {
    const ns = await workload("le-cut");
    const proxy = await TcpProxy.start({ target: cp.info.server });
    proxies.push(proxy);
    const a = await spawnChild("cut-a", ns, proxy.url);
    await a.waitFor("leading");
    await a.waitFor("write-ok");
    const b = await spawnChild("cut-b", ns);
    await b.waitFor("started");
    await new Promise((r) => setTimeout(r, 1_500));
    const cutAt = Date.now();
    proxy.blackhole();
    const lost = await a.waitFor("not-leading", RD + 3 * R + 2_000);
    const ex = await a.exited;
    assert.notEqual(ex.code, 0, "a replica that lost its lease exits non-zero");
    const bLead = await b.waitFor("leading", L + 4 * R + 5_000);
    // a's last successful renewal was at most one retry period before the cut; the lease expires
    // for b a full lease duration after b observed that renewal.
    assert.ok(lost.at - cutAt <= RD + 500, `a stopped leading ${lost.at - cutAt} ms after the cut`);
    assert.ok(lost.at < bLead.at, "a stopped before b took over");
    assert.ok(lost.at < cutAt + L - R, "a stopped before its lease could expire");
    const aWrites = writes(a);
    assert.ok(aWrites.every((t) => t <= lost.at), "no write was attempted after leadership was lost");
    await b.waitFor("write-ok", 10_000, bLead.at);
    assertNoOverlap(a, b, bLead.at);
    b.kill("SIGTERM");
    assert.equal((await b.exited).code, 0);
  });
});
