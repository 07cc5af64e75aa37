/**
 * The token bucket on the caller's monotonic time: a full burst at once, refill of one token per
 * period, waits rounded up to whole milliseconds, and no refill from time that goes backwards.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket } from "../../../lib/time/token-bucket.ts";

describe("TokenBucket", () => {
  it("starts full: the burst goes at once, then the next token is one refill period away", () => {
    const b = new TokenBucket({ burst: 3, refillMs: 1_000 }, 0);
    for (let i = 0; i < 3; i++) {
      assert.equal(b.waitMs(0), 0);
      b.take(0);
    }
    assert.equal(b.waitMs(0), 1_000);
    assert.equal(b.isFull(0), false);
  });

  it("refills one token per period, continuously: the wait shrinks as time passes", () => {
    const b = new TokenBucket({ burst: 1, refillMs: 1_000 }, 0);
    b.take(0);
    assert.equal(b.waitMs(250), 750);
    assert.equal(b.waitMs(999), 1);
    assert.equal(b.waitMs(1_000), 0);
  });

  it("rounds a wait up to whole milliseconds", () => {
    const b = new TokenBucket({ burst: 1, refillMs: 3 }, 0);
    b.take(0);
    assert.equal(b.waitMs(1), 2);
    assert.equal(b.waitMs(1.5), 2);
  });

  it("never holds more than the burst, however long it was idle", () => {
    const b = new TokenBucket({ burst: 2, refillMs: 100 }, 0);
    b.take(0);
    assert.equal(b.isFull(1_000_000), true);
    b.take(1_000_000);
    b.take(1_000_000);
    assert.equal(b.waitMs(1_000_000), 100, "two tokens, not ten thousand");
  });

  it("an overdraw (at shutdown) is paid back before the next token", () => {
    const b = new TokenBucket({ burst: 1, refillMs: 100 }, 0);
    b.take(0);
    b.take(0);
    assert.equal(b.waitMs(0), 200);
    assert.equal(b.waitMs(150), 50);
  });

  it("time that goes backwards adds no tokens and does not undo refills", () => {
    const b = new TokenBucket({ burst: 1, refillMs: 1_000 }, 10_000);
    b.take(10_000);
    assert.equal(b.waitMs(5_000), 1_000, "an earlier time refills nothing");
    assert.equal(b.waitMs(10_500), 500);
    assert.equal(b.waitMs(10_200), 500, "and never takes back what was refilled");
    assert.equal(b.waitMs(11_000), 0);
  });

  it("keeps its budget for callers to read", () => {
    const budget = { burst: 5, refillMs: 200 };
    assert.deepEqual(new TokenBucket(budget, 0).budget, budget);
  });
});
