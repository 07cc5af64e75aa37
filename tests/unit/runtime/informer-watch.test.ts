/**
 * The informer's watch against the in-memory API server on a fake clock (docs/behaviour/informer.md,
 * "Watching" and "The cache"): handler calls for watch events, resuming, relists after 410, and
 * staleness. Listing and the cache: informer.test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { Informer } from "../../../lib/runtime/informer.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { FakeApiServer, statusResponse } from "../../tools/fake-apiserver.ts";
import { FaultTransport } from "../../tools/fault-transport.ts";
import { advanceUntil, CM, cm, setup, stopInformers, track } from "./informer-fixtures.ts";

afterEach(stopInformers);

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
    const inf = track(new Informer(client, builtin.ConfigMap, { clock, registry: new Registry() }));
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
  it("is stale while watch requests hang unanswered (no failure counted), and fresh again once one is accepted", async () => {
    const { api, inf, until, clock } = setup({ staleAfterMs: 10_000, idleTimeoutMs: 30_000 });
    inf.start();
    await inf.waitForSync();
    await until(() => api.openWatches === 1, "the watch");
    let hang = true;
    api.intercept = (r) =>
      r.verb === "WATCH" && hang
        ? new Promise((_, reject) => r.signal?.addEventListener("abort", () => reject(r.signal!.reason)))
        : undefined;
    await clock.advance(2_000); // open a while: the close is not a very short watch
    const closedAt = clock.now();
    api.closeWatches();
    await until(() => inf.isStale(), "stale", 120_000);
    assert.ok(clock.now() - closedAt > 10_000, `stale after ${clock.now() - closedAt} ms`);
    assert.equal(inf.stats.failures, 0, "an unanswered request is abandoned, not failed");
    hang = false;
    await until(() => !inf.isStale(), "fresh again");
    assert.equal(api.openWatches, 1);
  });
});
