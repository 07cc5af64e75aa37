/** Budgets limit API calls, never information; the queue bound drops the least important first. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { fakeSetup, pod } from "./fakes.ts";

function make(setup: ReturnType<typeof fakeSetup>, extra: Record<string, unknown> = {}) {
  return new EventRecorder(setup.client, {
    component: "c",
    clock: setup.clock,
    registry: setup.registry,
    ...extra,
  });
}
const metric = (setup: ReturnType<typeof fakeSetup>, name: string, labels: Record<string, string> = {}) =>
  setup.registry.counter(name, "", Object.keys(labels)).get(labels);

describe("budgets", () => {
  it("serves namespaces in turn: a tenant's event is written next, not after another tenant's 2,000", {
    timeout: 60_000,
  }, async () => {
    const setup = fakeSetup();
    // Two writes at a time, 20 ms each: tenant-a's 2,000 events take 20 s to write.
    setup.server.latencyMs = 20;
    const r = make(setup, { maxSeries: 4096, maxQueue: 4096, concurrency: 2 });
    for (let i = 0; i < 2000; i++) r.info(pod(`df-${i}`, "tenant-a"), "Created", "made");
    await setup.clock.advance(5_000);
    const before = setup.server.count("POST");
    assert.ok(before < 1000, `tenant-a is still being written (${before} written)`);
    r.info(pod("df-0", "tenant-c", "uid-c"), "Created", "made");
    const writtenBy = (ns: string) =>
      setup.server.requests.findIndex((q) => q.path.includes(`/namespaces/${ns}/`) && q.method === "POST");
    for (let t = 0; t < 10 && writtenBy("tenant-c") < 0; t++) await setup.clock.advance(10);
    const at = writtenBy("tenant-c");
    assert.ok(at >= 0, "tenant-c's event was sent within 100 ms");
    assert.ok(at - before <= 1, `at most one tenant-a write went first (${at - before})`);
    await setup.clock.advance(30_000);
    assert.equal(setup.server.count("POST"), 2001, "and tenant-a's events are all written after it");
  });

  it("lets a new reason through for an object whose budget is spent", async () => {
    const setup = fakeSetup();
    const r = make(setup, { objectBudget: { burst: 3, refillMs: 300_000 } });
    for (let i = 0; i < 3; i++) r.warn(pod("busy"), "Flood", `distinct ${i}`);
    r.warn(pod("busy"), "Flood", "distinct 3");
    await setup.clock.advance(1000);
    assert.equal(setup.server.list().length, 3, "the fourth Flood waits for its budget");
    r.warn(pod("busy"), "Recovered", "back to normal");
    await setup.clock.advance(1000);
    assert.ok(setup.server.list().some((e) => e.reason === "Recovered"));
    await setup.clock.advance(300_000);
    assert.equal(setup.server.list().filter((e) => e.reason === "Flood").length, 4, "delayed, not lost");
  });

  it("keeps refilling a budget when the wall clock is stepped back: budgets run on monotonic time", async () => {
    const setup = fakeSetup();
    const r = make(setup, { objectBudget: { burst: 1, refillMs: 30_000 } });
    r.warn(pod("a"), "Flood", "first");
    r.warn(pod("a"), "Flood", "second"); // another series of the same (object, reason): no token left
    await setup.clock.advance(0);
    assert.equal(setup.server.count(), 1, "the second create waits for its budget");
    setup.clock.skewWall(-3_600_000); // the system clock is stepped back an hour
    await setup.clock.advance(30_000);
    assert.deepEqual(setup.server.list().map((e) => e.message), ["first", "second"], "refilled after 30 s");
  });

  it("counts every occurrence of a budget-limited burst: 1,000 in one second end up as count 1,000", async () => {
    const setup = fakeSetup();
    const r = make(setup, { objectBudget: { burst: 1, refillMs: 300_000 } });
    for (let i = 0; i < 1000; i++) {
      r.warn(pod("burst"), "Spam", "same");
      if (i % 100 === 99) await setup.clock.advance(100);
    }
    await setup.clock.advance(300_000);
    const [ev] = setup.server.list();
    assert.equal(ev.count, 1000);
    assert.equal(setup.server.count(), 2, "one create, one update after the refill");
  });

  it("never has more writes in flight than its ceiling, and writes every event once", async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 10;
    const r = make(setup, { maxSeries: 256, maxQueue: 2000 });
    for (let i = 0; i < 1500; i++) r.info(pod(`o${i}`, `ns${i % 7}`), "Created", "made");
    for (let t = 0; t < 200 && r.queueDepth > 0; t++) await setup.clock.advance(100);
    assert.equal(r.queueDepth, 0);
    assert.ok(setup.server.maxInFlight <= 32, `${setup.server.maxInFlight} in flight (ceiling 32)`);
    assert.equal(setup.server.maxInFlight, 32, "and the window reached the ceiling");
    assert.equal(metric(setup, "events_written_total", { verb: "create" }), 1500);
    assert.equal(setup.server.count(), 1500, "one write per event");
    assert.equal(setup.server.list().length, 1500);
  });

  it("when the queue is full, gives up one series' text per new series, not every waiting one's", async () => {
    const setup = fakeSetup();
    const r = make(setup, { maxQueue: 3 });
    // Three series of three namespaces, created, each with a count update waiting for its interval.
    for (const ns of ["a", "b", "c"]) r.info(pod("x", ns), "Created", ns);
    await setup.clock.advance(0);
    for (const ns of ["a", "b", "c"]) r.info(pod("x", ns), "Created", ns);
    assert.equal(r.queueDepth, 3);
    r.info(pod("y", "d"), "Created", "d");
    const overflow = metric(setup, "events_overflow_coalesced_total", { type: "Normal" });
    assert.equal(overflow, 1, "only the oldest waiting series (a's count update) gave way");
    assert.equal(r.queueDepth, 4, "3 series plus the overflow Event of namespace a");
    await setup.clock.advance(31_000);
    const events = setup.server.list();
    assert.equal(events.reduce((n, e) => n + e.count, 0), 7, "every occurrence is counted on the server");
    assert.deepEqual(
      events.filter((e) => e.message.startsWith("(combined from")).map((e) => e.metadata.namespace),
      ["a"],
    );
  });

  it("when the queue is full, gives up the oldest Normal's text but never a count, Warnings last", async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 1000; // one write at a time, each answered after a second
    const r = make(setup, { maxQueue: 4, concurrency: 1 });
    r.info(pod("in-flight"), "Busy", "occupies the only writer");
    await setup.clock.advance(0);
    for (let i = 0; i < 3; i++) r.info(pod(`n${i}`), "Normal", `n${i}`);
    const overflow = (type: string) => metric(setup, "events_overflow_coalesced_total", { type });
    r.warn(pod("w0"), "Warn", "w0");
    // n0 became the overflow Event of (ns1, Normal, reason Normal): room for w0.
    assert.equal(overflow("Normal"), 1, "the oldest Normal's text gave way");
    assert.equal(r.queueDepth, 5, "4 series plus the overflow Event");
    r.warn(pod("w1"), "Warn", "w1");
    r.warn(pod("w2"), "Warn", "w2");
    assert.equal(overflow("Normal"), 3, "the other Normals folded too, one per new Warning");
    assert.equal(overflow("Warning"), 0, "no Warning gave way while a Normal could");
    assert.equal(r.queueDepth, 5);
    r.warn(pod("w3"), "Warn", "w3");
    assert.equal(overflow("Warning"), 1, "with no Normal left, the oldest Warning's text gave way");
    assert.equal(r.queueDepth, 6, "4 series plus one overflow Event per (namespace, type, reason)");
    for (let t = 0; t < 60 && r.queueDepth > 0; t++) await setup.clock.advance(1000);
    const events = setup.server.list();
    assert.equal(events.reduce((n, e) => n + e.count, 0), 8, "every occurrence is counted on the server");
    const combined = events.filter((e) => e.message.startsWith("(combined from"));
    assert.deepEqual(
      combined.map((e) => [e.type, e.reason, e.count]).sort(),
      [
        ["Normal", "Normal", 3],
        ["Warning", "Warn", 1],
      ].sort(),
      "n0, n1 and n2 became the Normal overflow Event, w0 the Warning one",
    );
    assert.match(combined[0].message, /while the event queue was full; latest for Pod ns1\/\w+\): \w+/);
    assert.ok(events.some((e) => e.reason === "Busy" && e.count === 1));
    assert.ok(
      events.some((e) => e.message === "w3" && e.count === 1),
      "the newest Warning has its own Event",
    );
    const dropped = ["invalid", "retry_exhausted", "internal", "abandoned"].reduce(
      (n, reason) => n + metric(setup, "events_dropped_total", { reason }),
      0,
    );
    assert.equal(dropped, 0, "nothing dropped");
  });
});
