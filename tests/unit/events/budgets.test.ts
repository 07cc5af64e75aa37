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
  it("serves namespaces in turn: a tenant's event is written next, not after another tenant's 2,000", async () => {
    const setup = fakeSetup();
    const r = make(setup, { maxSeries: 4096, maxQueue: 4096 });
    for (let i = 0; i < 2000; i++) r.info(pod(`df-${i}`, "tenant-a"), "Created", "made");
    await setup.clock.advance(10_000);
    const before = setup.server.count("POST");
    assert.ok(before < 1000, `the global budget holds tenant-a back (${before} written)`);
    r.info(pod("df-0", "tenant-c", "uid-c"), "Created", "made");
    const writtenBy = (ns: string) =>
      setup.server.requests.findIndex((q) => q.path.includes(`/namespaces/${ns}/`) && q.method === "POST");
    for (let t = 0; t < 10 && writtenBy("tenant-c") < 0; t++) await setup.clock.advance(100);
    const at = writtenBy("tenant-c");
    assert.ok(at >= 0, "tenant-c's event was written within a second");
    assert.ok(at - before <= 1, `at most one tenant-a write went first (${at - before})`);
    await setup.clock.advance(400_000);
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

  it("never exceeds the global rate in any one-second window, and accounts for every event", {
    timeout: 60_000,
  }, async () => {
    const setup = fakeSetup();
    const r = make(setup, { maxSeries: 256, maxQueue: 2000 });
    for (let i = 0; i < 1500; i++) r.info(pod(`o${i}`, `ns${i % 7}`), "Created", "made");
    let pending = r.queueDepth;
    for (let t = 0; t < 200 && pending > 0; t++) {
      await setup.clock.advance(1000);
      pending = r.queueDepth;
    }
    const times = setup.server.requests.map((q) => q.at).sort((a, b) => a - b);
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1000) j++;
      assert.ok(i - j + 1 <= 60, `${i - j + 1} calls in one second (burst 50 + 10/s)`);
    }
    const written = metric(setup, "events_written_total", { verb: "create" });
    const dropped = ["queue_full", "invalid"].reduce(
      (n, reason) => n + metric(setup, "events_dropped_total", { reason }),
      0,
    );
    assert.equal(written + dropped + r.queueDepth, 1500);
    assert.equal(setup.server.list().length, written);
  });

  it("when the queue is full, drops Normal before Warning and keeps first occurrences over updates", async () => {
    const setup = fakeSetup();
    setup.server.hang = true;
    const r = make(setup, { maxQueue: 4, concurrency: 1 });
    r.info(pod("in-flight"), "Busy", "occupies the only writer");
    await setup.clock.advance(0);
    for (let i = 0; i < 3; i++) r.info(pod(`n${i}`), "Normal", "n");
    r.warn(pod("w0"), "Warn", "w");
    assert.equal(metric(setup, "events_dropped_total", { reason: "queue_full" }), 1, "a Normal made room");
    for (let i = 1; i < 3; i++) r.warn(pod(`w${i}`), "Warn", "w");
    assert.equal(
      metric(setup, "events_dropped_total", { reason: "queue_full" }),
      3,
      "both other Normals made room",
    );
    r.info(pod("late-normal"), "Normal", "n");
    assert.equal(
      metric(setup, "events_dropped_total", { reason: "queue_full" }),
      4,
      "a Normal never evicts a Warning",
    );
    assert.equal(r.queueDepth, 4);
    await r.close({ timeoutMs: 20 });
  });
});
