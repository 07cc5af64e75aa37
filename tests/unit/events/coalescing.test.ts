/** Dedup, counting, the update interval, similar-message folding, TTL outliving and 404 re-creation. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { COMBINED_PREFIX } from "../../../lib/events/similar.ts";
import { fakeSetup, pod } from "./fakes.ts";

/** Fake-clock tests that step through many timers: more than bun's 5 s default on a busy machine. */
const SLOW = { timeout: 60_000 };

function recorder(setup: ReturnType<typeof fakeSetup>, extra: Record<string, unknown> = {}): EventRecorder {
  return new EventRecorder(setup.client, {
    component: "dataflow-controller",
    instance: "test-1",
    clock: setup.clock,
    registry: setup.registry,
    ...extra,
  });
}

describe("coalescing identical events", () => {
  it(
    "writes 1,000 identical warnings over 10 minutes as one Event with count 1,000 in at most 22 calls",
    SLOW,
    async () => {
      const setup = fakeSetup();
      const r = recorder(setup);
      const p = pod("web-1");
      for (let i = 0; i < 1000; i++) {
        r.warn(p, "BackOff", "Back-off restarting failed container");
        await setup.clock.advance(600);
      }
      await setup.clock.advance(30_000); // one update interval after the last emit
      const events = setup.server.list();
      assert.equal(events.length, 1);
      assert.equal(events[0].count, 1000);
      assert.equal(events[0].type, "Warning");
      assert.ok(setup.server.count() <= 22, `${setup.server.count()} API calls`);
      assert.equal(setup.server.count("POST"), 1);
      assert.deepEqual(setup.server.invalid, []);
    },
  );

  it("starts the POST of a first occurrence without waiting for any timer", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    r.info(pod("a"), "Created", "created it");
    assert.equal(setup.server.count(), 0, "emit itself never touches the network");
    await setup.clock.advance(0);
    assert.equal(setup.server.count("POST"), 1);
  });

  it("never lets the server count lag more than the update interval during a series", SLOW, async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    const p = pod("lag");
    let emitted = 0;
    for (let t = 0; t < 300_000; t += 1000) {
      r.warn(p, "Unhealthy", "probe failed");
      emitted++;
      await setup.clock.advance(1000);
      if (t >= 31_000) {
        const server = setup.server.list()[0].count;
        // Everything emitted up to one interval (plus one tick) ago is on the server.
        assert.ok(server >= emitted - 31, `server ${server} emitted ${emitted}`);
      }
    }
  });

  it("keeps one series when only the object's resourceVersion changes", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    for (const rv of ["1", "2", "3"]) {
      r.info(
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "x", namespace: "ns1", uid: "u", resourceVersion: rv },
        },
        "Synced",
        "ok",
      );
    }
    await setup.clock.advance(31_000);
    const events = setup.server.list();
    assert.equal(events.length, 1);
    assert.equal(events[0].count, 3);
    assert.equal("resourceVersion" in events[0].involvedObject, false);
  });

  it("never merges different messages silently", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    r.warn(pod("m"), "Failed", "disk full");
    r.warn(pod("m"), "Failed", "network down");
    await setup.clock.advance(1000);
    assert.deepEqual(setup.server.list().map((e) => e.message).sort(), ["disk full", "network down"]);
  });

  it("folds more than 10 distinct messages per object and reason into one combined Event with a count", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    for (let i = 0; i < 25; i++) r.warn(pod("agg"), "SyncFailed", `attempt ${i} failed`);
    await setup.clock.advance(31_000);
    const events = setup.server.list();
    const combined = events.filter((e) => e.message.startsWith(COMBINED_PREFIX));
    assert.equal(events.length, 11);
    assert.equal(combined.length, 1);
    assert.equal(combined[0].count, 15);
    assert.equal(combined[0].message, `${COMBINED_PREFIX}attempt 24 failed`);
    // A repeat of one of the first ten messages still counts on its own Event.
    r.warn(pod("agg"), "SyncFailed", "attempt 3 failed");
    await setup.clock.advance(31_000);
    assert.equal(setup.server.list().find((e) => e.message === "attempt 3 failed")!.count, 2);
  });

  it("keeps a 3-hour series visible through the one-hour TTL with its count up to date", SLOW, async () => {
    const setup = fakeSetup({ eventTtlMs: 3_600_000 });
    const r = recorder(setup);
    for (let minute = 1; minute <= 180; minute++) {
      r.warn(pod("long"), "Degraded", "replica lag");
      await setup.clock.advance(60_000);
      const events = setup.server.list();
      assert.equal(events.length, 1, `minute ${minute}: visible`);
      assert.equal(events[0].count, minute);
    }
    assert.equal(setup.server.count("POST"), 1);
  });

  it("re-creates an Event whose count update gets 404, in one extra call, with the whole count", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    r.warn(pod("gone"), "Evicted", "out of memory");
    await setup.clock.advance(1000);
    const first = setup.server.list()[0].metadata.name;
    setup.server.deleteAll(); // expired or deleted behind our back
    r.warn(pod("gone"), "Evicted", "out of memory");
    r.warn(pod("gone"), "Evicted", "out of memory");
    const before = setup.server.count();
    await setup.clock.advance(31_000);
    assert.equal(setup.server.count() - before, 2, "one failed PATCH and one POST");
    const events = setup.server.list();
    assert.equal(events.length, 1);
    assert.equal(events[0].count, 3);
    assert.notEqual(events[0].metadata.name, first);
  });

  it("bounds the series cache and flushes counts of evicted series", async () => {
    const setup = fakeSetup();
    const r = recorder(setup, { maxSeries: 100 });
    for (let i = 0; i < 1000; i++) {
      r.info(pod(`o${i}`), "Tick", "tick");
      r.info(pod(`o${i}`), "Tick", "tick");
      assert.ok(r.seriesCount <= 100);
    }
    await setup.clock.advance(60_000);
    const events = setup.server.list();
    assert.equal(events.length, 1000);
    assert.ok(events.every((e) => e.count === 2), "no count lost on eviction");
  });

  it("gives distinct messages their own Events again once the 10-minute window has passed", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    for (let i = 0; i < 12; i++) r.warn(pod("w"), "Failed", `first wave ${i}`);
    await setup.clock.advance(601_000);
    for (let i = 0; i < 5; i++) r.warn(pod("w"), "Failed", `second wave ${i}`);
    await setup.clock.advance(31_000);
    const events = setup.server.list();
    assert.equal(events.filter((e) => e.message.startsWith("second wave")).length, 5, "not folded");
    assert.equal(
      events.filter((e) => e.message.startsWith(COMBINED_PREFIX)).length,
      1,
      "only the first wave folded",
    );
  });

  it("starts a new Event for an identical event after the series was idle for the window", async () => {
    const setup = fakeSetup();
    const r = recorder(setup);
    r.info(pod("idle"), "Synced", "ok");
    await setup.clock.advance(1000);
    r.info(pod("idle"), "Synced", "ok");
    await setup.clock.advance(31_000);
    await setup.clock.advance(600_000);
    r.info(pod("idle"), "Synced", "ok");
    await setup.clock.advance(1000);
    assert.deepEqual(setup.server.list().map((e) => e.count), [2, 1]);
  });

  it("writes events about cluster-scoped objects to kube-system when configured", async () => {
    const setup = fakeSetup();
    const r = recorder(setup, { clusterNamespace: "kube-system" });
    r.info({ apiVersion: "v1", kind: "Node", metadata: { name: "node-1", uid: "n1" } }, "Ready", "ok");
    await setup.clock.advance(1000);
    assert.equal(setup.server.list()[0].metadata.namespace, "kube-system");
    assert.equal(setup.server.list()[0].involvedObject.namespace, undefined);
  });
});
