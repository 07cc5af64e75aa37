/**
 * The informer against the real API server: the initial list and watch, recovery across a
 * kube-apiserver restart (a private control plane) with changes made while the informer was cut
 * off, which forces a real 410 Expired and a relist; the final cache must equal a fresh list.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { staticCredentials } from "../../../lib/kube/credentials.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { HttpTransport } from "../../../lib/kube/transport.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import { ControlPlane } from "../../controlplane/harness.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import { FaultTransport } from "../../tools/fault-transport.ts";
import { waitFor } from "../../tools/wait.ts";

function faultyClient(cp: ControlPlane): { client: KubeClient; faults: FaultTransport } {
  const admin = cp.info.admin;
  const faults = new FaultTransport(
    new HttpTransport({
      server: cp.info.server,
      tls: { ca: cp.info.ca },
      credentials: staticCredentials({ cert: admin.cert, key: admin.key }),
    }),
  );
  return {
    client: new KubeClient(faults, { registry: new Registry(), retry: { baseDelayMs: 50, maxDelayMs: 500 } }),
    faults,
  };
}

/** name -> resourceVersion of what the server has now. */
async function fresh(client: KubeClient, ns: string): Promise<Record<string, string>> {
  const l = await client.list<ConfigMap>(builtin.ConfigMap, { namespace: ns });
  return Object.fromEntries(l.items.map((o) => [`${ns}/${o.metadata!.name}`, o.metadata!.resourceVersion!]));
}
const cached = <T extends KubeObject>(inf: Informer<T>) =>
  Object.fromEntries(
    inf.list().map((o) => [`${o.metadata!.namespace}/${o.metadata!.name}`, o.metadata!.resourceVersion!]),
  );

describe("informer on the real API server", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await testControlPlane();
  });

  it("lists in pages and follows changes; managedFields are stripped", async () => {
    const admin = clientFor(cp);
    const ns = await freshNamespace(cp, "inf");
    for (let i = 0; i < 7; i++) {
      await admin.create(builtin.ConfigMap, {
        metadata: { name: `c${i}`, namespace: ns },
        data: { i: String(i) },
      });
    }
    const { client, faults } = faultyClient(cp);
    const inf = new Informer<ConfigMap & KubeObject>(client, builtin.ConfigMap, {
      namespace: ns,
      pageSize: 3,
      registry: new Registry(),
    });
    const events: string[] = [];
    inf.on({
      add: (o) => events.push(`add ${o.metadata!.name}`),
      delete: (o) => events.push(`delete ${o.metadata!.name}`),
    });
    const run = inf.start();
    try {
      await inf.waitForSync();
      assert.equal(faults.count({ verb: "LIST" }), 3, "7 objects in pages of 3");
      assert.equal(inf.size, 7);
      assert.equal(inf.list().some((o) => o.metadata?.managedFields), false);
      await admin.delete(builtin.ConfigMap, "c0", { namespace: ns });
      await admin.create(builtin.ConfigMap, { metadata: { name: "new", namespace: ns } });
      await waitFor(
        "the watch events",
        () => inf.get(`${ns}/new`) !== undefined && !inf.get(`${ns}/c0`),
        60_000,
      );
      assert.deepEqual(events.slice(-2), ["delete c0", "add new"]);
      assert.deepEqual(cached(inf), await fresh(admin, ns));
    } finally {
      inf.stop();
      await run;
    }
  });

  it("fills the cache with a streaming list (sendInitialEvents) when the server supports it", async () => {
    const admin = clientFor(cp);
    const ns = await freshNamespace(cp, "stream");
    for (let i = 0; i < 5; i++) {
      await admin.create(builtin.ConfigMap, { metadata: { name: `c${i}`, namespace: ns } });
    }
    const { client, faults } = faultyClient(cp);
    const inf = new Informer<ConfigMap & KubeObject>(client, builtin.ConfigMap, {
      namespace: ns,
      streamingList: true,
      registry: new Registry(),
    });
    const run = inf.start();
    try {
      await inf.waitForSync();
      assert.equal(faults.count({ verb: "LIST" }), 0, "no LIST: the watch delivered the initial state");
      assert.equal(faults.count({ verb: "WATCH" }), 1);
      assert.deepEqual(cached(inf), await fresh(admin, ns));
      await admin.create(builtin.ConfigMap, { metadata: { name: "later", namespace: ns } });
      await waitFor("a change on the same stream", () => inf.get(`${ns}/later`) !== undefined, 60_000);
      assert.equal(faults.count({ verb: "WATCH" }), 1);
    } finally {
      inf.stop();
      await run;
    }
  });

  it("recovers across a kube-apiserver restart: 410 relist, deletes for vanished objects, cache equal to a fresh list", async () => {
    const own = await ControlPlane.start({ binDir: cp.info.binDir });
    try {
      const admin = clientFor(own);
      const ns = await freshNamespace(own, "restart");
      for (let i = 0; i < 20; i++) {
        await admin.create(builtin.ConfigMap, {
          metadata: { name: `c${i}`, namespace: ns },
          data: { v: "0" },
        });
      }
      const { client, faults } = faultyClient(own);
      const inf = new Informer<ConfigMap & KubeObject>(client, builtin.ConfigMap, {
        namespace: ns,
        registry: new Registry(),
        backoff: { initialMs: 200, maxMs: 2_000 },
      });
      const deleted: string[] = [];
      inf.on({ delete: (o) => deleted.push(o.metadata!.name!) });
      const run = inf.start();
      try {
        await inf.waitForSync();
        await waitFor("the watch", () => faults.openStreams === 1, 60_000);
        // Cut the informer off, change things it cannot see, and restart the API server.
        const failuresBefore = inf.stats.failures;
        faults.partition("refuse");
        for (let i = 0; i < 5; i++) await admin.delete(builtin.ConfigMap, `c${i}`, { namespace: ns });
        for (let i = 5; i < 10; i++) {
          await admin.patch(builtin.ConfigMap, `c${i}`, { data: { v: "1" } }, { namespace: ns });
        }
        await own.stopApiserver();
        await waitFor("the informer to notice the outage", () => inf.stats.failures > failuresBefore, 60_000);
        assert.ok(inf.hasSynced(), "the cache is still served while the server is down");
        assert.equal(inf.size, 20);
        await own.startApiserver();
        for (let i = 20; i < 25; i++) {
          await admin.create(builtin.ConfigMap, { metadata: { name: `c${i}`, namespace: ns } });
        }
        const listsBefore = faults.count({ verb: "LIST" });
        faults.heal();
        await waitFor(
          "the cache to converge",
          async () => JSON.stringify(cached(inf)) === JSON.stringify(await fresh(admin, ns)),
          60_000,
        );
        // The watch from the pre-restart RV was answered with 410 Expired, which forced a relist.
        assert.ok(faults.count({ verb: "LIST" }) > listsBefore, "relisted after the restart");
        assert.ok(inf.stats.expired >= 1, "the server answered the old resourceVersion with 410 Expired");
        assert.deepEqual(
          deleted.sort(),
          ["c0", "c1", "c2", "c3", "c4"],
          "deletes were delivered for vanished objects",
        );
        // Changes after recovery still arrive over the new watch.
        await admin.patch(builtin.ConfigMap, "c9", { data: { v: "2" } }, { namespace: ns });
        await waitFor(
          "a change after recovery",
          () => (inf.get(`${ns}/c9`)?.data as Record<string, string>)?.v === "2",
          60_000,
        );
        assert.deepEqual(cached(inf), await fresh(admin, ns));
      } finally {
        inf.stop();
        await run;
        faults.close();
      }
    } finally {
      await own.stop();
    }
  });
});
