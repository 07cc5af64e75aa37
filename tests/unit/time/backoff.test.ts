/**
 * Exponential backoff: growth by a factor up to a maximum, jitter drawn from an injected random
 * source, and the reset after a quiet period measured on a fake clock.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Backoff, exponentialDelay, jitter } from "../../../lib/time/backoff.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";

describe("exponentialDelay", () => {
  it("grows by the factor from the initial delay and stops at the maximum", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => exponentialDelay(n, 100, 1_000)), [
      100,
      200,
      400,
      800,
      1_000,
      1_000,
    ]);
    assert.deepEqual([0, 1, 2, 3].map((n) => exponentialDelay(n, 10, 1_000, 3)), [10, 30, 90, 270]);
  });

  it("treats a negative failure count as none and never overflows past the maximum", () => {
    assert.equal(exponentialDelay(-3, 100, 1_000), 100);
    assert.equal(exponentialDelay(5_000, 100, 1_000), 1_000);
  });
});

describe("jitter", () => {
  it("adds random × factor × the delay", () => {
    assert.equal(jitter(1_000, 1.2, () => 0.5), 1_600);
    assert.equal(jitter(1_000, 1.0, () => 0), 1_000);
    assert.equal(jitter(2_000, 1.0, () => 0.25), 2_500);
  });

  it("with factor 0 returns the delay unchanged without drawing a random number", () => {
    assert.equal(jitter(1_000, 0, () => assert.fail("no draw expected")), 1_000);
  });
});

describe("Backoff", () => {
  it("doubles from the initial delay up to the maximum and counts failures; reset starts over", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, clock: new FakeClock() });
    assert.deepEqual(Array.from({ length: 6 }, () => b.next()), [100, 200, 400, 800, 1_000, 1_000]);
    assert.equal(b.failures, 6);
    b.reset();
    assert.equal(b.failures, 0);
    assert.equal(b.next(), 100);
  });

  it("adds jitter to each delay from the injected random source, on top of the capped base", () => {
    const draws = [0, 0.5, 0.1, 0.9];
    const b = new Backoff({
      initialMs: 100,
      maxMs: 400,
      jitter: 0.5,
      random: () => draws.shift()!,
      clock: new FakeClock(),
    });
    // bases 100, 200, 400, 400; plus draw × 0.5 × base
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 250, 420, 580]);
  });

  it("starts over once resetAfterMs passed since the last delay was taken", async () => {
    const clock = new FakeClock();
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, resetAfterMs: 5_000, clock });
    assert.equal(b.next(), 100);
    await clock.advance(4_999);
    assert.equal(b.next(), 200, "a failure within the quiet period keeps growing");
    await clock.advance(4_999);
    assert.equal(b.next(), 400);
    await clock.advance(5_000);
    assert.equal(b.next(), 100, "quiet for resetAfterMs: back to the first delay");
    assert.equal(b.failures, 1);
  });

  it("without resetAfterMs it never starts over by itself", async () => {
    const clock = new FakeClock();
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, clock });
    b.next();
    await clock.advance(3_600_000);
    assert.equal(b.next(), 200);
  });

  it("measures the quiet period on monotonic time: a wall clock step changes nothing", () => {
    const clock = new FakeClock();
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, resetAfterMs: 5_000, clock });
    b.next();
    clock.skewWall(3_600_000);
    assert.equal(b.next(), 200);
  });
});
