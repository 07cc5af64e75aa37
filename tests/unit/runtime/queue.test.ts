/** Work queue and rate limiters (docs/behaviour/queue-and-controller.md), on a fake clock. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { LOW_PRIORITY, WorkQueue } from "../../../lib/runtime/queue.ts";
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ExponentialRateLimiter,
  FastSlowRateLimiter,
  MaxOfRateLimiter,
  MaxWaitRateLimiter,
} from "../../../lib/runtime/ratelimit.ts";
import { Registry } from "../../../lib/observe/metrics.ts";

const labels = { name: "q", controller: "q" };
/** The label names the queue registers its metrics with (reading one must name the same). */
const labelNames = ["name", "controller"];

/** Resolves with the value if the promise settles within a few ticks, else "pending". */
async function peek<T>(p: Promise<T>): Promise<T | "pending"> {
  return await Promise.race([p, flushMicrotasks().then(() => "pending" as const)]);
}

describe("work queue", () => {
  it("serves namespaces in turn within a priority level: a late namespace is not stuck behind a flood", async () => {
    const q = new WorkQueue({ name: "q", clock: new FakeClock() });
    for (let i = 0; i < 2000; i++) q.add(`tenant-a/df-${i}`);
    q.add("tenant-b/df-0", { priority: LOW_PRIORITY });
    assert.equal(await q.get(), "tenant-a/df-0");
    q.add("tenant-c/df-0");
    assert.equal(await q.get(), "tenant-a/df-1", "tenant-a had the turn when tenant-c arrived");
    assert.equal(await q.get(), "tenant-c/df-0", "tenant-c's first key comes next, not after 1,998 others");
    const rest: string[] = [];
    while (q.len() > 0) rest.push((await q.get())!);
    assert.equal(rest.at(-1), "tenant-b/df-0", "priority still comes before fairness");
    assert.deepEqual(
      rest.slice(0, 3),
      ["tenant-a/df-2", "tenant-a/df-3", "tenant-a/df-4"],
      "FIFO inside one",
    );
  });

  it("takes the fairness group from an option (cluster-scoped keys share one group by default)", async () => {
    const q = new WorkQueue({ name: "q", clock: new FakeClock(), fairnessGroup: (k) => k[0] });
    ["a1", "a2", "b1"].forEach((k) => q.add(k));
    assert.deepEqual([await q.get(), await q.get(), await q.get()], ["a1", "b1", "a2"]);
    const plain = new WorkQueue({ name: "p", clock: new FakeClock() });
    ["a1", "a2", "b1"].forEach((k) => plain.add(k));
    assert.deepEqual([await plain.get(), await plain.get(), await plain.get()], ["a1", "a2", "b1"]);
  });

  it("dedups adds before a get", async () => {
    const registry = new Registry();
    const q = new WorkQueue({ name: "q", registry, clock: new FakeClock() });
    q.add("a");
    q.add("a");
    q.add("a");
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), "a");
    assert.equal(await peek(q.get()), "pending");
    assert.equal(registry.counter("workqueue_adds_total", "", labelNames).get(labels), 1);
  });

  it("never hands out a key that is processing; re-runs it once after done", async () => {
    const q = new WorkQueue({ name: "q", clock: new FakeClock() });
    q.add("a");
    assert.equal(await q.get(), "a");
    q.add("a");
    q.add("a");
    assert.equal(q.len(), 0);
    const second = q.get();
    assert.equal(await peek(second), "pending");
    q.done("a");
    assert.equal(await second, "a");
    q.done("a");
    assert.equal(q.len(), 0);
    assert.equal(await peek(q.get()), "pending");
  });

  it("keeps FIFO order among distinct keys", async () => {
    const q = new WorkQueue({ name: "q", clock: new FakeClock() });
    for (const k of ["c", "a", "b", "a"]) q.add(k);
    assert.deepEqual([await q.get(), await q.get(), await q.get()], ["c", "a", "b"]);
  });

  it("serves higher priorities first, FIFO within a level; a re-add can raise a key, never lower it", async () => {
    const q = new WorkQueue({ name: "q", clock: new FakeClock() });
    q.add("low1", { priority: LOW_PRIORITY });
    q.add("low2", { priority: LOW_PRIORITY });
    q.add("n1");
    q.add("low3", { priority: LOW_PRIORITY });
    q.add("n2");
    q.add("low2"); // a real change to a key queued at low priority
    q.add("n1", { priority: LOW_PRIORITY }); // never lowered
    assert.equal(q.len(), 5);
    const order = [];
    for (let i = 0; i < 5; i++) order.push(await q.get());
    assert.deepEqual(order, ["n1", "n2", "low2", "low1", "low3"]);
  });

  it("delayed adds: the earliest deadline wins, in either order, and fire once", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock });
    q.add("a", { afterMs: 10_000 });
    q.add("a", { afterMs: 1_000 });
    q.add("b", { afterMs: 1_000 });
    q.add("b", { afterMs: 10_000 });
    await clock.advance(999);
    assert.equal(q.len(), 0);
    await clock.advance(1);
    assert.equal(q.len(), 2);
    assert.deepEqual([await q.get(), await q.get()], ["a", "b"]);
    q.done("a");
    q.done("b");
    await clock.advance(20_000);
    assert.equal(q.len(), 0, "the later deadline does not fire again");
    q.add("c", { afterMs: 0 });
    assert.equal(q.len(), 1, "a zero delay is ready at once");
  });

  it("a plain add of a waiting key makes it ready at once and drops the delay", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock });
    q.add("a", { afterMs: 5_000 });
    q.add("a");
    assert.equal(q.waiting, 0);
    assert.equal(await q.get(), "a");
    q.done("a");
    await clock.advance(6_000);
    assert.equal(q.len(), 0);
  });

  it("delayed keys wait on one timer and become ready in deadline order, at the priority they were added with", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock });
    for (let i = 0; i < 1_000; i++) q.add(`ns/k${i}`, { afterMs: 10_000 + i });
    q.add("ns/late", { afterMs: 300, priority: LOW_PRIORITY });
    q.add("ns/early", { afterMs: 100, priority: LOW_PRIORITY });
    q.add("ns/middle", { afterMs: 200 });
    assert.equal(clock.pendingTimers, 1, "one timer for 1,003 waiting keys");
    assert.equal(q.waiting, 1_003);
    await clock.advance(300);
    q.add("ns/now", { priority: LOW_PRIORITY });
    assert.deepEqual(
      [await q.get(), await q.get(), await q.get(), await q.get()],
      ["ns/middle", "ns/early", "ns/late", "ns/now"],
      "priority first, then the order the keys became ready",
    );
    q.add("ns/k999");
    assert.equal(q.waiting, 999, "a plain add took k999 out of the deadline heap");
    await clock.advance(9_700);
    assert.equal(q.len(), 2, "k0 and k999 (no second run of k999 at its old deadline)");
    assert.equal(clock.pendingTimers, 1, "still one timer, armed for k1");
  });

  it("a delay longer than a host timer can hold (24.8 days) is honoured, not fired at once", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock });
    const month = 30 * 24 * 3_600_000;
    q.add("a", { afterMs: month });
    assert.equal(clock.nextTimerAt(), 2 ** 31 - 1, "no host timer is asked for more than it holds");
    await clock.advance(month - 1);
    assert.deepEqual([q.len(), q.waiting, clock.pendingTimers], [0, 1, 1], "re-armed once, still waiting");
    await clock.advance(1);
    assert.equal(await q.get(), "a");
  });

  it("a rate-limited add waits for the later of the limiter's delay and afterMs", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock, rateLimiter: new ExponentialRateLimiter(100, 10_000) });
    q.add("a", { rateLimited: true });
    q.add("b", { rateLimited: true, afterMs: 1_000 });
    assert.equal(q.numRequeues("a"), 1);
    await clock.advance(100);
    assert.deepEqual([q.len(), await q.get()], [1, "a"]);
    await clock.advance(899);
    assert.equal(q.len(), 0);
    await clock.advance(1);
    assert.equal(await q.get(), "b");
    q.forget("a");
    assert.equal(q.numRequeues("a"), 0);
  });

  it("a relist of 10,000 keys, their changes and their removal cost O(n log n) heap comparisons, not O(n²)", async () => {
    /** Comparisons for a relist of n keys, n/2 real changes, n retries cancelled by plain adds, and draining. */
    async function relistAndDrain(n: number): Promise<number> {
      const q = new WorkQueue({ name: "q", clock: new FakeClock() });
      const keys = Array.from({ length: n }, (_, i) => `ns-${i % 10}/obj-${i}`);
      for (const k of keys) q.add(k, { priority: LOW_PRIORITY }); // the relist
      for (const k of keys.slice(0, n / 2)) q.add(k); // real changes raise half of them
      keys.forEach((k, i) => q.add(`${k}-retry`, { afterMs: 60_000 + n - i })); // latest first: each a new head
      for (const k of keys) q.add(`${k}-retry`); // plain adds take them out of the deadline heap
      let served = 0;
      while (q.len() > 0) {
        q.done((await q.get())!);
        served++;
      }
      assert.deepEqual([served, q.waiting], [2 * n, 0]);
      return q.heapComparisons;
    }
    const small = await relistAndDrain(2_500);
    const large = await relistAndDrain(10_000);
    const m = 20_000; // keys handled in the large run
    assert.ok(large < 4 * m * Math.log2(m), `${large} comparisons for ${m} keys`);
    // Four times the keys: n log n grows about 4.6 times, a quadratic cost 16 times.
    assert.ok(large / small < 6, `grew ${(large / small).toFixed(1)} times for 4 times the keys`);
  });

  it("shutdown: adds become no-ops, queued keys still drain, delayed keys are dropped", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock });
    q.add("a");
    q.add("b");
    q.add("c", { afterMs: 100 });
    assert.equal(await q.get(), "a");
    q.shutDown();
    q.add("d");
    q.add("e", { afterMs: 1 });
    assert.equal(await q.get(), "b");
    assert.equal(await q.get(), undefined);
    q.done("b");
    await clock.advance(1_000);
    assert.equal(q.len(), 0);
    const drained = q.shutDownWithDrain({ timeoutMs: 5_000 });
    assert.equal(await peek(drained), "pending", "drain waits for in-flight keys");
    q.done("a");
    assert.equal(await drained, true);
  });

  it("shutdown with discardQueued hands out nothing more; drain times out when work hangs", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ name: "q", clock });
    q.add("a");
    q.add("b");
    assert.equal(await q.get(), "a");
    const drained = q.shutDownWithDrain({ discardQueued: true, timeoutMs: 1_000 });
    assert.equal(await q.get(), undefined, "b was discarded");
    const idle = new WorkQueue({ name: "idle", clock });
    const waiting = idle.get();
    idle.shutDown();
    assert.equal(await waiting, undefined, "a blocked get returns at shutdown");
    await clock.advance(1_000);
    assert.equal(await drained, false);
    q.done("a");
    assert.equal(q.len(), 0);
  });

  it("a key re-added while processing does not come back after a discarding shutdown", async () => {
    const q = new WorkQueue({ name: "q", clock: new FakeClock() });
    q.add("a");
    await q.get();
    q.add("a");
    q.shutDown({ discardQueued: true });
    q.done("a");
    assert.equal(await q.get(), undefined);
  });

  it("records depth, adds, retries, latency and work duration metrics", async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const q = new WorkQueue({ name: "q", registry, clock });
    q.add("a");
    q.add("b");
    assert.equal(registry.gauge("workqueue_depth", "", labelNames).get(labels), 2);
    await clock.advance(2_000);
    const k = await q.get();
    assert.equal(registry.gauge("workqueue_depth", "", labelNames).get(labels), 1);
    await clock.advance(500);
    q.add("x", { rateLimited: true });
    q.add("y", { afterMs: 10 });
    assert.equal(registry.counter("workqueue_retries_total", "", labelNames).get(labels), 2);
    const text = registry.render();
    assert.match(text, /workqueue_unfinished_work_seconds\{name="q",controller="q"\} 0\.5/);
    assert.match(text, /workqueue_longest_running_processor_seconds\{name="q",controller="q"\} 0\.5/);
    q.done(k!);
    assert.equal(registry.histogram("workqueue_queue_duration_seconds", "", labelNames).count(labels), 1);
    assert.equal(registry.histogram("workqueue_work_duration_seconds", "", labelNames).count(labels), 1);
    assert.match(
      registry.render(),
      /workqueue_queue_duration_seconds_bucket\{name="q",controller="q",le="1e-8"\} 0/,
    );
  });

  it("measures a key's queue duration from its first add: re-adds and raises do not restart it", async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const q = new WorkQueue({ name: "q", registry, clock });
    const queueSeconds = () => {
      const line = registry.render().split("\n").find((l) =>
        l.startsWith("workqueue_queue_duration_seconds_sum")
      );
      return Number(line?.split(" ")[1]);
    };
    q.add("a", { priority: LOW_PRIORITY });
    await clock.advance(1_000);
    q.add("a", { priority: 5 }); // raised, still waiting since 0
    q.add("a");
    await clock.advance(2_000);
    assert.equal(await q.get(), "a");
    assert.equal(queueSeconds(), 3);
    await clock.advance(1_000);
    q.add("a"); // re-added while processing, at 4 s: its next wait starts then
    await clock.advance(4_000);
    q.done("a");
    await clock.advance(1_000);
    assert.equal(await q.get(), "a");
    assert.equal(queueSeconds(), 3 + 5);
    assert.equal(registry.gauge("workqueue_depth", "", labelNames).get(labels), 0);
  });
});

describe("rate limiters", () => {
  it("exponential: 5 ms doubling to 1000 s, per key, reset by forget", () => {
    const rl = new ExponentialRateLimiter();
    const got = Array.from({ length: 20 }, () => rl.when("a"));
    assert.deepEqual(got.slice(0, 4), [5, 10, 20, 40]);
    assert.equal(got[17], 5 * 2 ** 17);
    assert.equal(got[18], 1_000_000);
    assert.equal(got[19], 1_000_000);
    assert.equal(rl.numRequeues("a"), 20);
    assert.equal(rl.when("b"), 5);
    rl.forget("a");
    assert.equal(rl.numRequeues("a"), 0);
    assert.equal(rl.when("a"), 5);
    for (let i = 0; i < 2000; i++) rl.when("big");
    assert.equal(rl.when("big"), 1_000_000, "no overflow");
  });

  it("bucket: the first 100 calls are free, the 101st waits about 100 ms", async () => {
    const clock = new FakeClock();
    const rl = new BucketRateLimiter(10, 100, clock);
    const got = Array.from({ length: 101 }, (_, i) => rl.when(`k${i}`));
    assert.ok(got.slice(0, 100).every((d) => d === 0));
    assert.ok(Math.abs(got[100] - 100) < 1e-6, `got ${got[100]}`);
    assert.ok(Math.abs(rl.when("x") - 200) < 1e-6);
    await clock.advance(1_000);
    assert.equal(rl.when("y"), 0, "tokens refill at qps");
  });

  it("max-of, fast-slow and max-wait combine limiters", () => {
    const m = new MaxOfRateLimiter(new ExponentialRateLimiter(1, 1000), new FastSlowRateLimiter(7, 500, 2));
    assert.deepEqual([m.when("a"), m.when("a"), m.when("a")], [7, 7, 500]);
    assert.equal(m.numRequeues("a"), 3);
    m.forget("a");
    assert.equal(m.numRequeues("a"), 0);
    const w = new MaxWaitRateLimiter(new ExponentialRateLimiter(100, 1e9), 250);
    assert.deepEqual([w.when("a"), w.when("a"), w.when("a")], [100, 200, 250]);
  });

  it("the default controller limiter is exponential only; the bucket is opt-in", () => {
    const d = defaultControllerRateLimiter();
    for (let i = 0; i < 150; i++) d.when(`k${i}`);
    assert.equal(d.when("fresh"), 5, "no global bucket delay after 150 keys");
    const withBucket = defaultControllerRateLimiter({ qps: 10, burst: 100, clock: new FakeClock() });
    let last = 0;
    for (let i = 0; i < 102; i++) last = withBucket.when(`k${i}`);
    assert.ok(last >= 200);
  });
});
