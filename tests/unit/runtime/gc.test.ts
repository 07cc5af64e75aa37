/**
 * Forced garbage collections (lib/runtime/gc.ts): one when the resident memory grew by a tenth plus
 * 16 MiB, none again until it grows further; their durations are paid from a budget of one second
 * that earns one millisecond per nine of other time, so beyond a burst they take at most a tenth
 * of the time, and a collection the budget held back runs when allowed. The policy runs on a fake
 * clock with a fake collector; the host wiring is checked on its own (Bun has a collector, V8
 * without `--expose-gc` none).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  collectIfGrown,
  GC_BURST_MS,
  GC_GROWTH,
  GC_MIN_GROWTH,
  GC_TIME_RATIO,
  GrowthCollector,
  hostCollect,
} from "../../../lib/runtime/gc.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";

const MiB = 1024 * 1024;

/**
 * A fake clock on which a synchronous collection takes time: {@link PausingClock.pause} moves
 * `now()` on without firing timers (the event loop is blocked), and later timers keep their
 * deadlines on that scale. (`FakeClock.jump` would not do: a collection run by a timer during
 * `advance` would have its jump undone when `advance` sets the time to its target.)
 */
class PausingClock extends FakeClock {
  #paused = 0;
  override now(): number {
    return super.now() + this.#paused;
  }
  pause(ms: number): void {
    this.#paused += ms;
  }
}

/** A collector whose collections take `pauseMs` of fake time and shrink the process to `after`. */
function fixture(pauseMs: number) {
  const clock = new PausingClock(1_000);
  const state = { rss: 0, after: 0, collections: [] as number[] };
  const collector = new GrowthCollector({
    clock,
    rss: () => state.rss,
    collect: () => {
      state.collections.push(clock.now());
      clock.pause(pauseMs);
      state.rss = state.after;
    },
  });
  return { clock, state, collector };
}

describe("GrowthCollector", () => {
  it("collects after growth by a tenth plus 16 MiB, then waits for that much more", () => {
    const { state, collector } = fixture(0);
    state.rss = GC_MIN_GROWTH - 1;
    assert.equal(collector.collectIfGrown(), false, "below 16 MiB: nothing to do");
    state.rss = GC_MIN_GROWTH;
    state.after = 100 * MiB;
    assert.equal(collector.collectIfGrown(), true, "grown by 16 MiB since the start");
    const threshold = 100 * MiB * (1 + GC_GROWTH) + GC_MIN_GROWTH;
    state.rss = threshold - 1;
    assert.equal(collector.collectIfGrown(), false, "one byte short of 10 % + 16 MiB");
    state.rss = threshold;
    assert.equal(collector.collectIfGrown(), true, "grown by 10 % + 16 MiB");
    assert.equal(collector.collectIfGrown(), false, "right after a collection: nothing to do");
  });

  it("runs a burst of collections up to the budget, then one ms of collection per nine of other time", async () => {
    const pause = 400;
    const { clock, state, collector } = fixture(pause);
    state.after = 600 * MiB;
    const grow = () => state.rss = 2_000 * MiB; // far past the growth threshold
    // 1,000 ms of budget: 400 + 400 leave 200, so a third may start and overdraws it by 200.
    for (let i = 0; i < 3; i++) {
      assert.equal((grow(), collector.collectIfGrown()), true, `collection ${i + 1}`);
    }
    assert.deepEqual(state.collections, [1_000, 1_400, 1_800]);
    const end = clock.now();
    assert.equal(end, 2_200);

    grow();
    assert.equal(
      collector.collectIfGrown(),
      false,
      "overdrawn: 200 ms to earn back, 9 x 200 ms of other time",
    );
    await clock.advance(GC_TIME_RATIO * 200 - 1);
    assert.equal(collector.collectIfGrown(), false, "still overdrawn a little");
    assert.equal(state.collections.length, 3, "the re-check timer is not due yet");
    await clock.advance(1);
    assert.deepEqual(
      state.collections.slice(3),
      [end + GC_TIME_RATIO * 200],
      "held back, then run when allowed",
    );
    assert.equal(clock.pendingTimers, 0);

    grow();
    const afterFourth = clock.now();
    assert.equal(collector.collectIfGrown(), false, "the fourth overdrew the budget by its 400 ms");
    await clock.advance(GC_TIME_RATIO * pause);
    assert.deepEqual(
      state.collections.slice(4),
      [afterFourth + GC_TIME_RATIO * pause],
      "from an empty budget: the next 9 x its duration after one ended",
    );
  });

  it("bounds the forced collections to a tenth of the time plus the burst while growth asks for more", async () => {
    const pause = 250;
    const { clock, state, collector } = fixture(pause);
    state.after = 600 * MiB;
    // Garbage piles up faster than the growth condition alone would pace collections: every check
    // (four checks a second) over 60 s finds the process grown.
    const start = clock.now();
    for (let t = 0; t < 60_000; t += 250) {
      state.rss = 2_000 * MiB;
      collector.collectIfGrown();
      await clock.advance(250);
    }
    const elapsed = clock.now() - start;
    const busy = state.collections.length * pause;
    assert.equal(
      busy <= (elapsed + GC_TIME_RATIO * (GC_BURST_MS + pause)) / (1 + GC_TIME_RATIO),
      true,
      `${busy} ms of ${elapsed} ms collecting`,
    );
    assert.equal(
      busy >= elapsed / (1 + GC_TIME_RATIO),
      true,
      `collects as often as allowed: ${busy} of ${elapsed} ms`,
    );
    // Once the burst is spent, each collection starts nine times its duration after the last ended.
    const late = state.collections.filter((t) => t > start + 2 * GC_BURST_MS * (1 + GC_TIME_RATIO));
    assert.equal(late.length > 10, true);
    for (let i = 1; i < late.length; i++) assert.equal(late[i] - late[i - 1], (1 + GC_TIME_RATIO) * pause);
  });

  it("arms one re-check timer however often it is held back, and skips it when the process shrank", async () => {
    const { clock, state, collector } = fixture(GC_BURST_MS + 100); // overdraws the budget by 100 ms
    state.rss = 200 * MiB;
    state.after = 100 * MiB;
    collector.collectIfGrown();
    state.rss = 300 * MiB;
    for (let i = 0; i < 5; i++) assert.equal(collector.collectIfGrown(), false);
    assert.equal(clock.pendingTimers, 1);
    state.rss = 100 * MiB; // the engine returned the memory on its own meanwhile
    await clock.advance(GC_TIME_RATIO * 100);
    assert.equal(state.collections.length, 1, "not grown any more when allowed: no collection");
    assert.equal(clock.pendingTimers, 0);
  });
});

describe("collectIfGrown (host wiring)", () => {
  it("has a collector on Bun and none on V8 without --expose-gc", () => {
    const onBun = "Bun" in globalThis;
    const exposed = typeof (globalThis as { gc?: unknown }).gc === "function";
    assert.equal(hostCollect() !== undefined, onBun || exposed);
    if (!onBun && !exposed) assert.equal(collectIfGrown(), false, "nothing to collect with");
  });
});
