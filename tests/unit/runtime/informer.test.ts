/**
 * The informer (watcher + cache) against the in-memory API server on a fake clock: the cache, the
 * handlers, indexes, resync, readiness and staleness, end to end over the list/watch protocol
 * (docs/behaviour/informer.md; the protocol's own steps are in watcher.test.ts).
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeClientOptions, type KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { Informer, type InformerOptions } from "../../../lib/runtime/informer.ts";
import { controllerIndexValue } from "../../../lib/runtime/keys.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";
import { FaultTransport } from "../../tools/fault-transport.ts";

const CM = "v1/configmaps";
const cm = (name: string, ns = "ns", extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, ...extra },
  data: { v: name },
});

/** Advances fake time, from timer to timer, until `cond` holds (fails after `maxMs` of fake time). */
async function advanceUntil(
  clock: FakeClock,
  cond: () => boolean,
  what: string,
  maxMs = 600_000,
  detail = "",
) {
  const end = clock.now() + maxMs;
  while (!cond() && clock.now() < end) {
    const next = clock.nextTimerAt();
    await clock.advance(
      Math.max(1, Math.min((next ?? clock.now() + 50) - clock.now(), end - clock.now(), 5_000)),
    );
  }
  assert.ok(cond(), `waited for ${what}${detail}`);
}

let running: Informer[] = [];
afterEach(() => {
  for (const i of running) i.stop();
  running = [];
});

function setup(options: InformerOptions = {}, clientOptions: KubeClientOptions = {}) {
  const api = new FakeApiServer();
  const clock = new FakeClock();
  const client = new KubeClient(api, {
    sleep: () => Promise.resolve(),
    registry: new Registry(),
    ...clientOptions,
  });
  const inf = new Informer(client, builtin.ConfigMap, { clock, registry: new Registry(), ...options });
  running.push(inf);
  const events: string[] = [];
  inf.on({
    add: (o) => events.push(`add ${o.metadata?.name}`),
    update: (a, b) =>
      events.push(
        `update ${b.metadata?.name} ${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`,
      ),
    delete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  const until = (cond: () => boolean, what: string, maxMs?: number) =>
    advanceUntil(clock, cond, what, maxMs, `; events: ${events.join(", ")}`);
  const watches = () => api.requests.filter((r) => r.verb === "WATCH");
  return { api, clock, client, inf, events, until, watches };
}

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
});

describe("informer: watch", () => {
  it("calls add, update and delete for watch events; a bookmark moves the version without a handler call", async () => {
    const { api, inf, until, events } = setup();
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    api.put(CM, cm("a"));
    api.put(CM, { ...cm("a"), data: { v: "2" } });
    api.remove(CM, "ns", "a");
    api.put(CM, cm("b"));
    await until(() => events.length === 4, "four events");
    assert.equal(events[0], "add a");
    assert.match(events[1], /^update a \d+->\d+$/);
    assert.deepEqual(events.slice(2), ["delete a", "add b"]);
    api.put("v1/secrets", { metadata: { name: "s", namespace: "ns" } });
    api.bookmark();
    await until(() => inf.lastSyncResourceVersion === api.resourceVersion, "the bookmark's RV");
    assert.equal(events.length, 4);
  });

  it("decodes watch events split across chunks, in order", async () => {
    const { api, inf, until, events } = setup();
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    const ev = (name: string, rv: string) =>
      JSON.stringify({
        type: "ADDED",
        object: { ...cm(name), metadata: { name, namespace: "ns", resourceVersion: rv } },
      }) +
      "\n";
    const both = ev("x", "900") + ev("y", "901");
    const cut = Math.floor(ev("x", "900").length * 1.5);
    api.sendRaw(both.slice(0, cut));
    await until(() => events.length === 1, "the first event");
    api.sendRaw(both.slice(cut));
    await until(() => events.length === 2, "the second event");
    assert.deepEqual(events, ["add x", "add y"]);
    assert.equal(inf.lastSyncResourceVersion, "901");
  });

  it("re-watches from the last version after the server closes the watch, without a relist or handler calls", async () => {
    const { api, inf, until, events, watches } = setup();
    api.put(CM, cm("a"));
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    api.put(CM, cm("b"));
    await until(() => events.length === 2, "b");
    const rv = inf.lastSyncResourceVersion;
    api.closeWatches();
    await until(() => watches().length === 2, "the re-watch", 2_000);
    assert.equal(watches()[1].query?.get("resourceVersion"), rv);
    assert.equal(api.count("LIST"), 1);
    assert.deepEqual(events, ["add a", "add b"]);
  });

  it("a stream cut mid-body (reset, body timeout) resumes from the last version, without a relist or a failure", async () => {
    const api = new FakeApiServer();
    const faults = new FaultTransport(api);
    const clock = new FakeClock();
    const client = new KubeClient(faults, { sleep: () => Promise.resolve(), registry: new Registry() });
    const inf = new Informer(client, builtin.ConfigMap, { clock, registry: new Registry() });
    running.push(inf);
    inf.start();
    await inf.waitForSync();
    await advanceUntil(clock, () => faults.openStreams === 1, "the watch");
    await clock.advance(2_000); // open a while: not a very short watch
    faults.cutWatches(new TypeError("terminated: other side closed"));
    await advanceUntil(clock, () => faults.count({ verb: "WATCH" }) === 2, "the re-watch");
    const rv = inf.lastSyncResourceVersion;
    const w = faults.seen.filter((r) => r.verb === "WATCH");
    assert.equal(w.length, 2);
    assert.match(w[1].query, new RegExp(`resourceVersion=${rv}`));
    assert.equal(faults.count({ verb: "LIST" }), 1);
    assert.equal(inf.stats.failures, 0, "handled as a clean reconnect");
  });

  it("relists on a 410 ERROR event and watches from the new list's version", async () => {
    const { api, inf, until, watches } = setup();
    api.put(CM, cm("a"));
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    api.put(CM, cm("b"));
    await until(() => inf.size === 2, "b");
    api.errorWatches(410, "Expired");
    await until(() => api.count("LIST") === 2 && watches().length === 2, "relist and re-watch");
    const relist = api.requests.filter((r) => r.verb === "LIST")[1];
    assert.equal(
      relist.query?.get("resourceVersion"),
      inf.lastSyncResourceVersion,
      "relists not older than the last RV",
    );
    assert.equal(relist.query?.get("resourceVersionMatch"), "NotOlderThan");
    assert.equal(watches()[1].query?.get("resourceVersion"), api.resourceVersion);
  });

  it("a relist calls delete for vanished objects and update only for changed versions", async () => {
    const { api, inf, until, events } = setup();
    api.put(CM, cm("a"));
    api.put(CM, cm("b"));
    api.put(CM, cm("c"));
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    api.stallWatches(); // events from now on are lost
    api.removeSilently(CM, "ns", "b");
    api.put(CM, { ...cm("c"), data: { v: "changed" } });
    api.compact();
    api.errorWatches(410, "Expired");
    // The stalled stream got the ERROR suppressed too: let the idle watchdog find it, then the 410 relist.
    await until(() => events.length >= 5, "delete b and update c");
    assert.deepEqual(events.slice(0, 3), ["add a", "add b", "add c"]);
    assert.deepEqual(events.slice(3).map((e) => e.replace(/ \d+->\d+/, "")).sort(), ["delete b", "update c"]);
    assert.deepEqual(inf.keys().sort(), ["ns/a", "ns/c"]);
  });

  it("a relist at a version the server no longer has falls back to a list of the latest state", async () => {
    const { api, inf, until } = setup();
    api.put(CM, cm("a"));
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    api.intercept = (r) =>
      r.verb === "LIST" && r.query?.get("resourceVersion")
        ? statusResponse(410, "Expired", "too old resource version")
        : undefined;
    api.put(CM, cm("b"));
    api.errorWatches(410);
    await until(() => api.count("LIST") === 3, "the fallback list");
    const lists = api.requests.filter((r) => r.verb === "LIST");
    assert.ok(lists[1].query?.get("resourceVersion"));
    assert.equal(lists[2].query?.get("resourceVersion"), null);
    await until(() => inf.size === 2, "b");
  });

  it("is stale once failing for longer than staleAfterMs, and fresh again when a watch is accepted", async () => {
    const { api, inf, until, clock } = setup({ staleAfterMs: 10_000, backoff: { jitter: 0 } });
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    assert.equal(inf.isStale(), false);
    api.intercept = (
      r,
    ) => (r.verb === "WATCH" ? statusResponse(503, "ServiceUnavailable", "down") : undefined);
    await clock.advance(2_000); // open a while: the close is not a very short watch, the re-watch fails
    const failedAt = clock.now();
    api.closeWatches();
    await until(() => inf.stats.failures === 1, "the first failure", 500);
    assert.equal(inf.isStale(), false, "not stale before staleAfterMs");
    await until(() => inf.isStale(), "stale");
    assert.ok(clock.now() - failedAt > 10_000, `stale after ${clock.now() - failedAt} ms`);
    api.intercept = undefined;
    await until(() => !inf.isStale(), "fresh again");
    assert.equal(api.openWatches, 1);
  });
});

describe("informer: cache", () => {
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
