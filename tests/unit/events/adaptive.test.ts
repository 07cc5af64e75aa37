/**
 * The recorder protects the API server by reacting to it, not by a fixed rate: the write window
 * grows while writes succeed fast, halves on 429/5xx and on rising latency, pauses for
 * Retry-After, and yields to its owner's busy signal. Memory stays bounded without losing a count.
 * Everything on the fake clock; the fake server answers after `latencyMs` of fake time.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventRecorder } from "../../../lib/events/mod.ts";
import type { KubeRequest } from "../../../lib/kube/transport.ts";
import { fakeSetup, pod, statusResponse } from "./fakes.ts";

type Setup = ReturnType<typeof fakeSetup>;
/** Many fake-clock steps take real time (each lets pending promises settle); bun's default timeout is 5 s. */
const SLOW = { timeout: 60_000 };

function make(setup: Setup, extra: Record<string, unknown> = {}) {
  return new EventRecorder(setup.client, {
    component: "c",
    clock: setup.clock,
    registry: setup.registry,
    ...extra,
  });
}
const counter = (setup: Setup, name: string, labels: Record<string, string> = {}) =>
  setup.registry.counter(name, "", Object.keys(labels)).get(labels);
const gauge = (setup: Setup, name: string) => setup.registry.gauge(name, "").get();

/** Emits `n` new Normal series (one per object) in `ns`, starting at object number `from`. */
function burst(r: EventRecorder, n: number, from = 0, ns = "ns1"): void {
  for (let i = from; i < from + n; i++) r.info(pod(`o${i}`, ns), "Created", `object ${i} created`);
}

/** Advances in `stepMs` steps until nothing waits (at most `maxSteps`). */
async function drain(setup: Setup, r: EventRecorder, stepMs = 100, maxSteps = 10_000): Promise<void> {
  for (let t = 0; t < maxSteps && (r.queueDepth > 0 || r.writesInFlight > 0); t++) {
    await setup.clock.advance(stepMs);
  }
}

describe("adaptive write concurrency", () => {
  it(
    "starts at 4 writes at once and doubles per round trip while writes succeed fast, up to 32",
    SLOW,
    async () => {
      const setup = fakeSetup();
      setup.server.latencyMs = 10;
      const r = make(setup);
      assert.equal(r.writeConcurrency, 4);
      assert.equal(gauge(setup, "events_write_concurrency"), 4);
      burst(r, 2000);
      await setup.clock.advance(0);
      assert.equal(setup.server.inFlight, 4);
      await setup.clock.advance(10);
      assert.equal(r.writeConcurrency, 8, "four successes: four more");
      await setup.clock.advance(10);
      assert.equal(r.writeConcurrency, 16);
      await setup.clock.advance(10);
      assert.equal(r.writeConcurrency, 32);
      await setup.clock.advance(10);
      assert.equal(r.writeConcurrency, 32, "never above the ceiling");
      assert.equal(setup.server.inFlight, 32);
      assert.equal(gauge(setup, "events_write_concurrency"), 32);
      await drain(setup, r, 10);
      assert.equal(setup.server.maxInFlight, 32);
      assert.equal(setup.server.list().length, 2000);
    },
  );

  it("does not grow a window it does not use", SLOW, async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 10;
    const r = make(setup);
    for (let i = 0; i < 100; i++) {
      r.info(pod(`o${i}`), "Created", "one at a time");
      await setup.clock.advance(20);
    }
    assert.equal(setup.server.maxInFlight, 1);
    assert.equal(r.writeConcurrency, 4);
  });

  it("halves on a 429 and sends nothing until its Retry-After has passed", SLOW, async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 10;
    const r = make(setup);
    burst(r, 400);
    await setup.clock.advance(40);
    assert.equal(r.writeConcurrency, 32);
    let throttledAt: number | undefined;
    setup.server.fault = (req: KubeRequest) => {
      if (throttledAt !== undefined || req.method !== "POST") return undefined;
      throttledAt = setup.clock.now();
      return statusResponse(429, "TooManyRequests", "slow down", { headers: { "Retry-After": "2" } });
    };
    await setup.clock.advance(10);
    assert.ok(throttledAt !== undefined);
    assert.equal(r.writeConcurrency, 16, "halved once");
    assert.equal(counter(setup, "events_write_backoffs_total", { cause: "throttled" }), 1);
    assert.equal(counter(setup, "events_write_paused_seconds_total"), 2);
    const sentAfter = () => setup.server.requests.filter((q) => q.at > throttledAt!).length;
    await setup.clock.advance(1990);
    assert.equal(sentAfter(), 0, "no write is sent during the pause");
    await setup.clock.advance(20);
    assert.ok(sentAfter() > 0, "writes resume once it has passed");
    await drain(setup, r);
    assert.equal(setup.server.list().length, 400, "the throttled write was retried: nothing lost");
    assert.equal(setup.server.list().reduce((n, e) => n + e.count, 0), 400);
  });

  it("halves once per round trip on 5xx answers, never below the floor", SLOW, async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 10;
    const r = make(setup);
    burst(r, 300);
    await setup.clock.advance(40);
    assert.equal(r.writeConcurrency, 32);
    setup.server.fault = () => statusResponse(503, "ServiceUnavailable", "overloaded");
    await setup.clock.advance(10);
    assert.equal(r.writeConcurrency, 16, "32 writes answered 503 in one round trip: halved once");
    await setup.clock.advance(200);
    assert.equal(r.writeConcurrency, 1, "each later round trip halves again, down to the floor");
    assert.ok(setup.server.inFlight <= 1);
    setup.server.fault = undefined;
    await drain(setup, r);
    assert.ok(r.writeConcurrency > 1, "and it grows again when the server answers");
    assert.equal(setup.server.list().reduce((n, e) => n + e.count, 0), 300);
  });

  it(
    "halves when latency rises well above the best seen, and adapts to a server that stays slower",
    SLOW,
    async () => {
      const setup = fakeSetup();
      setup.server.latencyMs = 5;
      const r = make(setup);
      burst(r, 20_000);
      await setup.clock.advance(50);
      assert.equal(r.writeConcurrency, 32);
      setup.server.latencyMs = 100; // > 3 x 5 ms + 20 ms
      await setup.clock.advance(1000);
      assert.equal(r.writeConcurrency, 1, "slow answers halve it round trip after round trip");
      assert.ok(counter(setup, "events_write_backoffs_total", { cause: "latency" }) >= 5);
      assert.equal(counter(setup, "events_write_backoffs_total", { cause: "throttled" }), 0);
      // The baseline is the best of the last one to two minutes: a server that stays at 100 ms
      // becomes the new normal and the window opens again.
      await setup.clock.advance(125_000);
      assert.ok(r.writeConcurrency > 4, `window ${r.writeConcurrency} after two minutes at 100 ms`);
      assert.equal(gauge(setup, "events_write_latency_baseline_seconds"), 0.1);
      const closing = r.close({ timeoutMs: 10 });
      await setup.clock.advance(10);
      await closing;
    },
  );

  it(
    "holds writes at the floor while the owner is busy, and uses the window once it is not",
    SLOW,
    async () => {
      const setup = fakeSetup();
      setup.server.latencyMs = 10;
      let busy = true;
      let calls = 0;
      const r = make(setup, {
        busy: () => {
          calls++;
          return busy;
        },
        busyHoldMs: 0, // this test is about the floor; holding a burst has its own test
      });
      burst(r, 1000);
      await setup.clock.advance(1000);
      assert.ok(calls > 0, "the signal is asked");
      assert.equal(setup.server.maxInFlight, 1, "one write at a time while the owner's writes wait");
      assert.equal(gauge(setup, "events_write_yielding"), 1);
      const written = setup.server.count();
      assert.ok(written >= 90, `events still flow at the floor (${written} written in 1 s of 10 ms writes)`);
      busy = false;
      setup.server.maxInFlight = 0;
      await setup.clock.advance(980);
      assert.ok(setup.server.maxInFlight <= 1, "a second's grace: the signal may only have flickered off");
      await setup.clock.advance(30);
      assert.ok(setup.server.inFlight > 1, "then the window opens");
      await drain(setup, r, 10);
      assert.equal(gauge(setup, "events_write_yielding"), 0);
      assert.equal(setup.server.list().length, 1000);
      assert.ok(setup.server.maxInFlight > 4);
    },
  );

  it(
    "holds a burst's events while the owner is busy, up to busyHoldMs, but never a tenant's few",
    SLOW,
    async () => {
      const setup = fakeSetup();
      setup.server.latencyMs = 5;
      let busy = true;
      const r = make(setup, { busy: () => busy, busyHoldMs: 8000 });
      const emittedAt = setup.clock.now();
      burst(r, 500, 0, "tenant-a");
      await setup.clock.advance(1000);
      r.info(pod("c-0", "tenant-c"), "Created", "tenant-c's one");
      r.info(pod("c-0", "tenant-c"), "Updated", "and its second event");
      await setup.clock.advance(100);
      const sent = (ns: string) => setup.server.requests.filter((q) => q.path.includes(`/namespaces/${ns}/`));
      assert.equal(sent("tenant-c").length, 2, "a namespace with a few events is never held");
      assert.equal(sent("tenant-a").length, 0, "the burst waits while the owner's writes do");
      assert.ok((gauge(setup, "events_write_held") ?? 0) > 0);
      await setup.clock.advance(6890);
      assert.equal(sent("tenant-a").length, 0, "until its events are 8 s old");
      await setup.clock.advance(20);
      assert.ok(sent("tenant-a").length > 0, "then they go out");
      assert.ok(sent("tenant-a").every((q) => q.at >= emittedAt + 8000));
      assert.equal(setup.server.maxInFlight, 1, "at the floor while the owner is busy");
      busy = false;
      await drain(setup, r, 10);
      assert.equal(setup.server.list().length, 502);
      const lastAnswer = Math.max(...sent("tenant-a").map((q) => q.answeredAt!));
      assert.ok(
        lastAnswer - emittedAt < 10_000,
        `the burst was written ${lastAnswer - emittedAt} ms after emission`,
      );
      assert.equal(gauge(setup, "events_write_held"), 0);
    },
  );

  it("releases a held burst once the owner has been idle for a second", SLOW, async () => {
    const setup = fakeSetup();
    let busy = true;
    const r = make(setup, { busy: () => busy });
    burst(r, 100);
    await setup.clock.advance(1000);
    assert.equal(setup.server.count(), 0);
    busy = false;
    await setup.clock.advance(900);
    assert.equal(setup.server.count(), 0, "a second's grace");
    await setup.clock.advance(350); // the busy signal is polled every 250 ms while events are held
    assert.equal(setup.server.list().length, 100);
  });

  it("treats a busy signal that throws as not busy", SLOW, async () => {
    const setup = fakeSetup();
    const r = make(setup, {
      busy: () => {
        throw new Error("broken owner");
      },
    });
    burst(r, 10);
    await setup.clock.advance(0);
    assert.equal(setup.server.list().length, 10);
  });

  it("a fixed concurrency stays fixed", SLOW, async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 10;
    const r = make(setup, { concurrency: 3 });
    burst(r, 300);
    await drain(setup, r, 10);
    assert.equal(setup.server.maxInFlight, 3);
    assert.equal(r.writeConcurrency, 3);
  });
});

describe("bursts", () => {
  it(
    "writes 1,000 objects x 10 identical events over 10 s in at most 2 writes per series, every count exact",
    SLOW,
    async () => {
      const setup = fakeSetup();
      setup.server.latencyMs = 5;
      const r = make(setup);
      const emittedAt: number[] = [];
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 1000; i++) {
          if (round === 0) emittedAt[i] = setup.clock.now();
          r.warn(pod(`web-${i}`), "BackOff", "Back-off restarting failed container");
        }
        await setup.clock.advance(1000);
      }
      await drain(setup, r, 1000);
      const events = setup.server.list();
      assert.equal(events.length, 1000);
      assert.ok(events.every((e) => e.count === 10));
      const perSeries = new Map<string, number>();
      for (const q of setup.server.requests) {
        const name = q.method === "POST"
          ? (q.body?.metadata as { name: string }).name
          : q.path.split("/").pop()!;
        perSeries.set(name, (perSeries.get(name) ?? 0) + 1);
      }
      assert.ok([...perSeries.values()].every((n) => n <= 2), "at most 2 writes per series");
      // The first occurrence of every object is on the server within a second of fake time.
      const created = setup.server.requests.filter((q) => q.method === "POST");
      const lag = created.map((q) =>
        q.answeredAt! - emittedAt[Number(/web-(\d+)/.exec(q.path + JSON.stringify(q.body))![1])]
      );
      assert.ok(Math.max(...lag) < 1000, `slowest first occurrence ${Math.max(...lag)} ms`);
      const lagMetric = setup.registry.histogram("events_delivery_lag_seconds", "");
      assert.equal(lagMetric.count(), setup.server.count(), "one delivery-lag sample per write");
    },
  );

  it("loses no count when a flood of new series overflows the queue, with memory bounded", SLOW, async () => {
    const setup = fakeSetup();
    setup.server.latencyMs = 50;
    let busy = true; // the owner keeps the recorder at one write at a time: the queue fills
    const r = make(setup, { maxQueue: 200, maxSeries: 100, busy: () => busy, busyHoldMs: 0 });
    let emitted = 0;
    let maxDepth = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) {
        r.info(
          pod(`df-${round}-${i}`, `ns${i % 3}`),
          i % 2 ? "ConfigMapCreated" : "DeploymentCreated",
          `made ${i}`,
        );
        emitted++;
        if (i % 10 === 0) {
          r.warn(pod(`df-${round}-${i}`, `ns${i % 3}`), "Failed", `failure ${round}-${i}`);
          emitted++;
        }
        maxDepth = Math.max(maxDepth, r.queueDepth);
      }
      await setup.clock.advance(100);
    }
    // maxQueue, plus at most one overflow Event per (namespace, type, reason) when nothing else could give way.
    assert.ok(maxDepth <= 200 + 3 * 2, `at most ${maxDepth} series waited`);
    assert.ok(counter(setup, "events_overflow_coalesced_total", { type: "Normal" }) > 0);
    assert.equal(
      counter(setup, "events_overflow_coalesced_total", { type: "Warning" }),
      0,
      "Warnings kept their text",
    );
    busy = false;
    await drain(setup, r);
    const events = setup.server.list();
    assert.equal(events.reduce((n, e) => n + e.count, 0), emitted, "every occurrence is counted");
    const warnings = events.filter((e) => e.type === "Warning");
    assert.equal(warnings.length, 200, "every Warning has its own Event and text");
    assert.ok(warnings.every((e) => e.count === 1 && e.message.startsWith("failure ")));
    const overflowEvents = events.filter((e) => e.message.startsWith("(combined from"));
    assert.ok(
      overflowEvents.length > 0 && overflowEvents.length <= 6 * 20,
      `${overflowEvents.length} overflow Events`,
    );
    const dropped = setup.registry.render().match(/^events_dropped_total\{.*\} (\d+)$/gm)!
      .map((l) => Number(l.split(" ").pop()));
    assert.ok(dropped.every((n) => n === 0), "nothing dropped");
  });

  it(
    "folds the new series itself when everything waiting is being written or an overflow Event",
    SLOW,
    async () => {
      const setup = fakeSetup();
      setup.server.latencyMs = 10_000;
      const r = make(setup, { maxQueue: 2, concurrency: 2 });
      r.info(pod("a"), "Created", "a");
      r.info(pod("b"), "Created", "b");
      await setup.clock.advance(0); // both in flight
      r.info(pod("c"), "Created", "c"); // nothing can give way: c becomes the overflow Event of (ns1, Normal, Created)
      r.info(pod("d"), "Created", "d"); // folds into it
      r.info(pod("e"), "Created", "e");
      assert.equal(r.queueDepth, 3, "2 + one overflow Event");
      r.warn(pod("f"), "Failed", "f"); // another (namespace, type, reason): one more overflow Event
      assert.equal(r.queueDepth, 4);
      assert.equal(counter(setup, "events_overflow_coalesced_total", { type: "Normal" }), 3);
      await drain(setup, r, 10_000);
      const events = setup.server.list();
      assert.equal(events.reduce((n, e) => n + e.count, 0), 6);
      const overflow = events.find((e) => e.reason === "Created" && e.count === 3)!;
      assert.match(
        overflow.message,
        /^\(combined from 3 series while the event queue was full; latest for Pod ns1\/e\): e$/,
      );
      assert.equal(overflow.involvedObject.name, "c", "about the first object folded in");
    },
  );
});
