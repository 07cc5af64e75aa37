/**
 * A controller's event sources (docs/behaviour/queue-and-controller.md, "Controller"), driven by hand
 * on a fake clock: the wait for their sync, owned children mapped to their owner, watches() maps,
 * and low priority for initial lists and resyncs.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../../../lib/kube/client.ts";
import { resourceType as rtype } from "../../../lib/kube/resources.ts";
import type { Informer } from "../../../lib/runtime/informer.ts";
import { CacheSyncTimeoutError, type EventSource } from "../../../lib/runtime/source.ts";
import { quietLogs, setup, StubSource } from "./controller-fixtures.ts";

/** The informer is an event source by its shape alone (this fails to type-check when they diverge). */
const informerIsASource: Informer<KubeObject> extends EventSource<KubeObject> ? true : false = true;
void informerIsASource;

afterEach(quietLogs);

describe("controller: sources", () => {
  it("waits for its informers to sync before starting workers, and fails after the sync timeout", async () => {
    const inf = new StubSource("things");
    inf.synced = false;
    let calls = 0;
    const { clock, c } = setup(() => {
      calls++;
    });
    c.for(inf);
    const run = c.start();
    c.enqueue("x");
    await clock.advance(1_000);
    assert.equal(calls, 0);
    inf.markSynced();
    await clock.advance(1);
    assert.equal(calls, 1);
    await c.stop();
    await run;

    const other = setup(async () => {});
    const never = new StubSource("never");
    never.synced = false;
    other.c.for(never);
    const failed = other.c.start().then(() => undefined, (e: Error) => e);
    await other.clock.advance(120_000);
    const err = await failed;
    assert.ok(err instanceof CacheSyncTimeoutError);
    assert.deepEqual(err.pending, ["never"]);
    assert.match(err.message, /failed to wait for caches to sync \(never\) within 120000 ms/);
  });

  it("a graceful stop while it waits for its informers ends start at once, without a sync timeout", async () => {
    const never = new StubSource("never");
    never.synced = false;
    let calls = 0;
    const { clock, c } = setup(() => {
      calls++;
    });
    c.for(never);
    let outcome: string | undefined;
    const run = c.start().then(
      () => (outcome = "resolved"),
      (e: Error) => (outcome = `rejected: ${e.message}`),
    );
    c.enqueue("x");
    await clock.advance(1_000);
    assert.equal(await c.stop({ timeoutMs: 1_000 }), true);
    await clock.advance(1);
    assert.equal(outcome, "resolved", "start ended with the stop, not at the sync timeout");
    await clock.advance(120_000);
    await run;
    assert.equal(outcome, "resolved");
    assert.equal(calls, 0, "no reconcile after the stop");
  });

  it("maps owned children to their controller owner", async () => {
    const keys: string[] = [];
    const { clock, c } = setup((ctx) => {
      keys.push(ctx.key);
    });
    const foos = new StubSource("foos", rtype("example.io/v1", "Foo", "foos"));
    const pods = new StubSource("pods", rtype("v1", "Pod", "pods"));
    const clusterOwned = new StubSource("cm", rtype("v1", "ConfigMap", "configmaps"));
    c.for(foos)
      .owns(pods, { apiVersion: "example.io/v2", kind: "Foo" })
      .owns(clusterOwned, { apiVersion: "example.io/v1", kind: "Bar", namespaced: false });
    assert.deepEqual(c.informers.map((s) => s.name), ["foos", "pods", "cm"]);
    const run = c.start();
    const ref = (name: string, controller: boolean, kind = "Foo") => ({
      apiVersion: "example.io/v1",
      kind,
      name,
      uid: "u",
      controller,
    });
    const pod = { metadata: { name: "p", namespace: "ns", ownerReferences: [ref("foo1", true)] } };
    pods.add(pod);
    await clock.advance(1);
    assert.deepEqual(keys, ["ns/foo1"], "version ignored, child namespace used");
    pods.add({ metadata: { name: "q", namespace: "ns", ownerReferences: [ref("foo2", false)] } });
    await clock.advance(1);
    assert.deepEqual(keys, ["ns/foo1"], "a non-controller ref is ignored");
    pods.update(pod, { metadata: { name: "p", namespace: "ns", ownerReferences: [] } });
    await clock.advance(1);
    assert.deepEqual(keys, ["ns/foo1", "ns/foo1"], "removing the ref still wakes the old owner");
    pods.delete({ metadata: { name: "r", namespace: "ns", ownerReferences: [ref("foo3", true)] } });
    await clock.advance(1);
    assert.equal(keys.at(-1), "ns/foo3");
    clusterOwned.add({
      metadata: { name: "c", namespace: "ns", ownerReferences: [ref("bar1", true, "Bar")] },
    });
    await clock.advance(1);
    assert.equal(keys.at(-1), "bar1", "a cluster-scoped owner gives a key without namespace");
    foos.add({ metadata: { name: "f", namespace: "ns" } });
    await clock.advance(1);
    assert.equal(keys.at(-1), "ns/f");
    c.enqueueAll();
    await clock.advance(1);
    assert.equal(keys.at(-1), "ns/f");
    await c.stop();
    await run;
  });

  it("initial-list adds and resyncs run after real changes (low priority)", async () => {
    const keys: string[] = [];
    const { clock, c } = setup((ctx) => {
      keys.push(ctx.key);
    });
    const inf = new StubSource("things");
    for (const n of ["a", "b", "c"]) {
      inf.objects.set(`ns/${n}`, { metadata: { name: n, namespace: "ns", resourceVersion: "1" } });
    }
    c.for(inf);
    c.queue.add("first"); // occupies the single worker while the rest is queued
    const run = c.start();
    const b = inf.objects.get("ns/b")!;
    inf.update(b, b); // a resync: same resourceVersion
    const cObj = inf.objects.get("ns/c")!;
    inf.update(cObj, { metadata: { name: "c", namespace: "ns", resourceVersion: "2" } }); // a real change of c
    await clock.advance(10);
    assert.deepEqual(keys, ["first", "ns/c", "ns/a", "ns/b"]);
    await c.stop();
    await run;
  });

  it("watches() maps any object to keys; handlers registered late get the cache contents", async () => {
    const keys: string[] = [];
    const { clock, c } = setup((ctx) => {
      keys.push(ctx.key);
    });
    const secrets = new StubSource("secrets", rtype("v1", "Secret", "secrets"));
    secrets.objects.set("ns/s1", { metadata: { name: "s1", namespace: "ns" } });
    c.watches(secrets, (o) => [`ns/user-of-${o.metadata?.name}`]);
    const run = c.start();
    await clock.advance(1);
    assert.deepEqual(keys, ["ns/user-of-s1"]);
    await c.stop();
    await run;
  });
});
