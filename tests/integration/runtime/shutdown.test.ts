/**
 * Graceful shutdown of a real operator process against a real API server, as
 * docs/behaviour/manager.md describes: SIGTERM during a slow reconcile lets it finish, releases
 * the lease and exits 0; a second signal exits 1 at once; a reconcile that outlives the grace
 * period makes the exit non-zero and leaves the lease to expire instead of releasing it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { builtin } from "../../../lib/kube/resources.ts";
import type { LeaseRecord } from "../../../lib/runtime/leader-lock.ts";
import { type ControlPlane, writeKubeconfig } from "../../controlplane/harness.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import { OperatorChild } from "./child.ts";

let cp: ControlPlane;
const children: OperatorChild[] = [];
before(async () => {
  cp = await testControlPlane();
});
after(async () => {
  for (const c of children) await c.stop();
});

async function start(
  name: string,
  env: Record<string, string>,
): Promise<{ child: OperatorChild; ns: string }> {
  const ns = await freshNamespace(cp, name);
  const admin = clientFor(cp);
  await admin.create(builtin.ConfigMap, {
    metadata: { name: "w1", namespace: ns, labels: { "runtime-test": "work" } },
  });
  await admin.create(builtin.ConfigMap, { metadata: { name: "ledger-w1", namespace: ns } });
  const kc = join(cp.info.dir, `runtime-${name}.kubeconfig`);
  await writeKubeconfig(kc, cp.info.server, cp.info.caPath, {
    name: "admin",
    cert: cp.info.admin.cert,
    key: cp.info.admin.key,
  });
  const child = new OperatorChild(name, {
    RT_KUBECONFIG: kc,
    RT_NAMESPACE: ns,
    RT_LEASE_MS: "6000",
    RT_RENEW_MS: "4000",
    RT_RETRY_MS: "1000",
    RT_REQUEUE_MS: "60000",
    ...env,
  }, join(cp.info.dir, `${name}.log`));
  children.push(child);
  return { child, ns };
}

const holder = async (ns: string) =>
  (await clientFor(cp).get<{ spec: LeaseRecord }>(builtin.Lease, "runtime-test", { namespace: ns })).spec
    .holderIdentity;

describe("graceful shutdown of an operator process", () => {
  it("SIGTERM during a slow reconcile: it finishes, the lease is released, exit 0", async () => {
    const { child, ns } = await start("sd-term", { RT_RECONCILE_SLEEP_MS: "2000" });
    await child.waitFor("reconcile-start");
    child.kill("SIGTERM");
    const ex = await child.exited;
    assert.equal(ex.code, 0);
    const kinds = child.events.map((e) => e.ev);
    assert.ok(kinds.includes("signal"), "the child saw the SIGTERM");
    assert.ok(
      kinds.indexOf("signal") < kinds.indexOf("reconcile-end"),
      `the in-flight reconcile ran to its end after the signal: ${kinds.join(", ")}`,
    );
    assert.equal(child.of("write-ok").length, 1, "and its write went out");
    assert.equal(await holder(ns), "", "the lease was released");
  });

  it("a second SIGTERM exits 1 at once, without waiting for the reconcile", async () => {
    const { child } = await start("sd-twice", { RT_RECONCILE_SLEEP_MS: "60000" });
    await child.waitFor("reconcile-start");
    child.kill("SIGTERM");
    await child.waitFor("signal");
    child.kill("SIGTERM");
    const ex = await child.exited;
    assert.equal(ex.code, 1);
    assert.equal(child.of("signal").length, 2);
    assert.equal(child.of("reconcile-end").length, 0, "the reconcile (a minute long) did not end first");
  });

  it("a reconcile that outlives the grace period: exit non-zero, and the lease is not released", async () => {
    const { child, ns } = await start("sd-hang", { RT_RECONCILE_SLEEP_MS: "60000", RT_SHUTDOWN_MS: "1000" });
    await child.waitFor("reconcile-start");
    child.kill("SIGTERM");
    const ex = await child.exited;
    assert.notEqual(ex.code, 0);
    assert.equal(child.of("reconcile-end").length, 0, "the process did not wait for the reconcile to end");
    assert.equal(await holder(ns), "sd-hang", "not released: the reconcile may still have been writing");
  });
});
