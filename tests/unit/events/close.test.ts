/** Shutdown: close() flushes pending creates and final counts within the deadline, once. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { fakeSetup, pod } from "./fakes.ts";

describe("close", () => {
  it("flushes final counts of 50 events across 10 series at once, ignoring the update interval", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    for (let i = 0; i < 50; i++) r.warn(pod(`o${i % 10}`), "Pending", "waiting");
    await setup.clock.advance(0); // creates go out, later occurrences wait for the update interval
    for (let i = 0; i < 50; i++) r.warn(pod(`o${i % 10}`), "Pending", "waiting");
    const before = setup.clock.now();
    // The fake clock stands still: the flush waits for neither the update interval nor a timer.
    const result = await r.close({ timeoutMs: 5000 });
    assert.equal(setup.clock.now(), before);
    const events = setup.server.list();
    assert.equal(events.length, 10);
    assert.ok(events.every((e) => e.count === 10), events.map((e) => e.count).join(","));
    assert.equal(result.abandoned, 0);
    assert.equal(result.flushed, 10);
  });

  it("resolves by its deadline when the API hangs, and reports what it abandoned", async () => {
    const setup = fakeSetup();
    setup.server.hang = true;
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    for (let i = 0; i < 30; i++) r.warn(pod(`o${i % 3}`), "Stuck", "x");
    await setup.clock.advance(0);
    assert.equal(setup.server.inFlight, 3, "the three creates hang");
    let settled = false;
    const closing = r.close({ timeoutMs: 200 }).finally(() => settled = true);
    await setup.clock.advance(199);
    assert.equal(settled, false, "still flushing before the deadline");
    await setup.clock.advance(1);
    const result = await closing;
    assert.equal(result.abandoned, 30);
    assert.equal(setup.server.inFlight, 0, "the hanging requests were aborted");
    assert.equal(
      setup.registry.counter("events_dropped_total", "", ["reason"]).get({ reason: "abandoned" }),
      30,
    );
  });

  it("is idempotent and leaves no timers behind", async () => {
    const setup = fakeSetup();
    const r = new EventRecorder(setup.client, {
      component: "c",
      clock: setup.clock,
      registry: setup.registry,
    });
    r.warn(pod("a"), "R", "x");
    await setup.clock.advance(0);
    r.warn(pod("a"), "R", "x");
    const a = r.close();
    const b = r.close({ timeoutMs: 1 });
    assert.equal(a, b);
    await a;
    assert.equal(setup.clock.pendingTimers, 0);
    assert.equal(setup.server.list()[0].count, 2);
  });
});
