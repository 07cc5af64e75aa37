/**
 * The informer (watcher + cache) against the in-memory API server on a fake clock: listing into
 * the cache, streaming lists, the handlers, indexes, resync and memory, end to end over the
 * list/watch protocol (docs/behaviour/informer.md). Watching, recovering and staleness:
 * informer-watch.test.ts; the protocol's own steps: watcher.test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { controllerIndexValue } from "../../../lib/runtime/keys.ts";
import { statusResponse } from "../../tools/fake-apiserver.ts";
import { CM, cm, setup, stopInformers } from "./informer-fixtures.ts";

afterEach(stopInformers);

describe("informer: list", () => {
  it("lists in pages, takes the RV from the list metadata, then watches from it", async () => {
    const { api, inf, until, watches, events } = setup({ pageSize: 2 });
    for (const n of ["a", "b", "c", "d", "e"]) api.put(CM, cm(n));
    api.put("v1/secrets", { metadata: { name: "s", namespace: "ns" } }); // moves the RV past the last item's
    const listRv = api.resourceVersion;
    inf.start();
    await inf.waitForSync();
    assert.equal(inf.hasSynced(), true);
    const lists = api.requests.filter((r) => r.verb === "LIST");
    assert.equal(lists.length, 3);
    assert.ok(lists.every((r) => r.query?.get("limit") === "2"));
    assert.equal(lists[0].query?.get("continue"), null);
    assert.ok(lists[1].query?.get("continue"));
    assert.equal(lists[0].query?.get("resourceVersion"), null, "the first list is a consistent read");
    await until(() => watches().length === 1, "the watch");
    const w = watches()[0].query!;
    assert.equal(w.get("resourceVersion"), listRv);
    assert.equal(w.get("allowWatchBookmarks"), "true");
    const timeout = Number(w.get("timeoutSeconds"));
    assert.ok(timeout >= 240 && timeout < 300, `timeoutSeconds ${timeout}`);
    assert.deepEqual(events, ["add a", "add b", "add c", "add d", "add e"]);
    assert.equal(inf.list().length, 5);
    assert.equal(inf.get("ns/c")?.data && (inf.get("ns/c")!.data as Record<string, string>).v, "c");
    assert.equal(inf.get("ns/c")?.kind, "ConfigMap", "kind and apiVersion are filled in for list items");
  });

  it("a paged list restarted after its continue token expired keeps nothing of the unfinished one", async () => {
    const { api, inf, events } = setup({ pageSize: 2 });
    for (const n of ["a", "b", "c", "d", "e"]) api.put(CM, cm(n));
    api.expireContinueTokens(1);
    let removed = false;
    api.intercept = (r) => {
      // Between page 1 (a, b) and its expired continuation, "a" goes away.
      if (r.verb === "LIST" && r.query?.get("continue") && !removed) {
        removed = true;
        api.removeSilently(CM, "ns", "a");
      }
      return undefined;
    };
    inf.start();
    await inf.waitForSync();
    const lists = api.requests.filter((r) => r.verb === "LIST");
    assert.equal(lists.length, 4, "page 1, the expired page 2, then two pages again");
    assert.equal(lists[2].query?.get("continue"), null, "the restart begins without a token");
    assert.deepEqual(inf.keys().sort(), ["ns/b", "ns/c", "ns/d", "ns/e"]);
    assert.deepEqual(events, ["add b", "add c", "add d", "add e"]);
  });

  it("scopes list and watch by namespace and label selector", async () => {
    const { api, inf, until, watches } = setup({ namespace: "ns", labelSelector: "app=x" });
    api.put(CM, cm("in", "ns", { labels: { app: "x" } }));
    api.put(CM, cm("other-label", "ns", { labels: { app: "y" } }));
    api.put(CM, cm("other-ns", "elsewhere", { labels: { app: "x" } }));
    inf.start();
    await inf.waitForSync();
    assert.deepEqual(inf.keys(), ["ns/in"]);
    await until(() => watches().length === 1, "the watch");
    assert.match(watches()[0].url, /^\/api\/v1\/namespaces\/ns\/configmaps\?.*labelSelector=app%3Dx/);
  });

  it("metadata-only mode asks for PartialObjectMetadata and caches with the real kind", async () => {
    const { api, inf, until, watches } = setup({ metadataOnly: true });
    api.put(CM, cm("a"));
    inf.start();
    await inf.waitForSync();
    await until(() => watches().length === 1, "the watch");
    for (const r of api.requests) assert.match(r.headers?.Accept ?? "", /as=PartialObjectMetadata/);
    assert.equal(inf.get("ns/a")?.kind, "ConfigMap");
  });

  it("strips managedFields from listed and watched objects unless told not to", async () => {
    const managedFields = [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:data": { "f:v": {} } } }];
    for (const strip of [true, false]) {
      const { api, inf, until } = setup({ stripManagedFields: strip });
      api.put(CM, cm("a", "ns", { managedFields }));
      inf.start();
      await inf.waitForSync();
      api.put(CM, cm("b", "ns", { managedFields }));
      await until(() => inf.size === 2, "the watch event");
      for (const o of inf.list()) assert.equal(o.metadata?.managedFields === undefined, strip);
    }
  });

  it("a transform that throws (a TypeError too) fails the attempt, which is backed off and relisted, never thrown out of start()", async () => {
    for (const streamingList of [false, true]) {
      let broken = true;
      const { api, inf, until } = setup({
        streamingList,
        backoff: { jitter: 0 },
        transform: (o) => {
          if (broken && o.metadata?.name === "b") throw new TypeError("o.spec is undefined");
          return o;
        },
      });
      api.put(CM, cm("a"));
      let thrown: unknown;
      inf.start().catch((err) => (thrown = err));
      await until(() => inf.size === 1 || thrown !== undefined, "the first list");
      assert.equal(thrown, undefined, "start() does not reject");
      api.put(CM, cm("b"));
      await until(() => inf.stats.failures >= 1 || thrown !== undefined, "the failed attempt");
      assert.equal(thrown, undefined, "start() does not reject");
      assert.equal(inf.get("ns/b"), undefined, "nothing of the failed step is cached");
      await until(() => inf.stats.failures >= 2, "a retry, failing again while the transform throws");
      assert.equal(thrown, undefined, "start() does not reject");
      broken = false;
      await until(() => inf.size === 2, "b after the relist");
      assert.equal(thrown, undefined);
      inf.stop();
    }
  });
});

describe("informer: streaming list", () => {
  it("fills the cache from one watch with sendInitialEvents and goes on on the same stream", async () => {
    const { api, inf, until, watches, events } = setup({ streamingList: true });
    api.put(CM, cm("a"));
    api.put(CM, cm("b"));
    inf.start();
    await inf.waitForSync();
    assert.equal(api.count("LIST"), 0, "no LIST request");
    assert.equal(watches().length, 1);
    const q = watches()[0].query!;
    assert.equal(q.get("sendInitialEvents"), "true");
    assert.equal(q.get("resourceVersionMatch"), "NotOlderThan");
    assert.equal(q.get("allowWatchBookmarks"), "true");
    assert.deepEqual(inf.keys().sort(), ["ns/a", "ns/b"]);
    assert.equal(inf.lastSyncResourceVersion, api.resourceVersion);
    api.put(CM, cm("c"));
    await until(() => inf.size === 3, "c over the same stream");
    assert.equal(watches().length, 1, "the same stream carried on");
    assert.deepEqual(events, ["add a", "add b", "add c"]);
  });

  it("falls back to LIST when the server refuses a streaming list", async () => {
    const { api, inf, until } = setup({ streamingList: true });
    api.put(CM, cm("a"));
    api.intercept = (r) =>
      r.verb === "WATCH" && r.query?.get("sendInitialEvents")
        ? statusResponse(422, "Invalid", "sendInitialEvents is not supported")
        : undefined;
    inf.start();
    await inf.waitForSync();
    assert.equal(api.count("LIST"), 1);
    await until(() => api.openWatches === 1, "the plain watch");
    assert.deepEqual(inf.keys(), ["ns/a"]);
  });
});

describe("informer: cache", () => {
  it("stops listening to its start signal once it has stopped", async () => {
    const { inf } = setup();
    const signal = new AbortController().signal;
    const listening = new Set<unknown>();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    Object.assign(signal, {
      addEventListener: (type: string, fn: () => void, options?: AddEventListenerOptions) => {
        listening.add(fn);
        add(type, fn, options);
      },
      removeEventListener: (type: string, fn: () => void) => {
        listening.delete(fn);
        remove(type, fn);
      },
    });
    const run = inf.start(signal);
    await inf.waitForSync();
    assert.equal(listening.size, 1, "it listens while it runs");
    inf.stop();
    await run;
    assert.equal(listening.size, 0, "no listener left on a signal that may live much longer");
  });

  it("resync calls update with the same version for every object and sends no request", async () => {
    const { api, inf, until, events, clock } = setup({ resyncMs: 30_000 });
    api.put(CM, cm("a"));
    api.put(CM, cm("b"));
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    const requests = api.requests.length;
    await clock.advance(30_000);
    const resync = events.slice(2);
    assert.equal(resync.length, 2);
    for (const e of resync) {
      const [, , rvs] = e.split(" ");
      const [from, to] = rvs.split("->");
      assert.equal(from, to);
    }
    assert.equal(api.requests.length, requests);
  });

  it("indexes by namespace and by controller owner; late handlers get the contents; handler errors are contained", async () => {
    const { api, inf, until } = setup();
    const owner = { apiVersion: "example.io/v1", kind: "Foo", name: "f1", uid: "u1", controller: true };
    api.put(CM, cm("a", "ns1", { ownerReferences: [owner] }));
    api.put(CM, cm("b", "ns1"));
    api.put(CM, cm("c", "ns2", { ownerReferences: [{ ...owner, controller: false }] }));
    inf.start();
    await inf.waitForSync();
    assert.deepEqual(inf.byIndex("namespace", "ns1").map((o) => o.metadata?.name).sort(), ["a", "b"]);
    assert.deepEqual(
      inf.byIndex("controller", controllerIndexValue("Foo", "ns1", "f1")).map((o) => o.metadata?.name),
      ["a"],
    );
    assert.deepEqual(inf.byIndex("controller", controllerIndexValue("Foo", "ns2", "f1")), []);
    inf.addIndex("data", (o) => [String((o.data as Record<string, string>)?.v)]);
    assert.equal(inf.byIndex("data", "b")[0]?.metadata?.name, "b");
    const late: string[] = [];
    inf.on({
      add: (o) => {
        late.push(o.metadata!.name!);
        throw new Error("handler bug");
      },
    });
    assert.equal(late.length, 3);
    await until(() => api.openWatches === 1, "the watch");
    api.put(CM, cm("d", "ns1"));
    api.remove(CM, "ns1", "a");
    await until(() => inf.size === 3 && late.length === 4, "the events despite the throwing handler");
    assert.deepEqual(inf.byIndex("controller", controllerIndexValue("Foo", "ns1", "f1")), []);
    assert.deepEqual(inf.byIndex("namespace", "ns1").map((o) => o.metadata?.name).sort(), ["b", "d"]);
  });
});

describe("informer: memory", () => {
  it("a 10k-object cache without managedFields is less than half the size", async () => {
    const managedFields = [
      {
        manager: "kubectl-client-side-apply",
        operation: "Update",
        apiVersion: "v1",
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: {
          "f:data": { ".": {}, "f:v": {} },
          "f:metadata": { "f:labels": { ".": {}, "f:app": {} } },
        },
      },
      {
        manager: "dataflow-controller",
        operation: "Apply",
        apiVersion: "v1",
        time: "2026-01-01T00:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: { "f:metadata": { "f:annotations": { "f:x": {} } } },
      },
    ];
    const sizes: number[] = [];
    for (const strip of [false, true]) {
      const { api, inf } = setup({ stripManagedFields: strip });
      for (let i = 0; i < 10_000; i++) {
        api.put(CM, cm(`c${i}`, "ns", { labels: { app: "x" }, managedFields }));
      }
      inf.start();
      await inf.waitForSync();
      assert.equal(inf.size, 10_000);
      sizes.push(inf.list().reduce((n, o) => n + JSON.stringify(o).length, 0));
      inf.stop();
    }
    const [kept, stripped] = sizes;
    assert.ok(stripped < kept * 0.5, `stripped cache ${stripped} B vs ${kept} B`);
  });
});
