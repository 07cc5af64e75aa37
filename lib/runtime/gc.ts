/**
 * Full garbage collections when the process has grown, at the moments an operator knows much
 * garbage has just died: a large list was cached (its response text, managedFields, the parts a
 * transform dropped), and while and after reconciles run. Bun's collector otherwise keeps the
 * memory of that garbage for about ten seconds (its young collections free the objects but keep
 * their memory), and that is where an operator's resident memory peaked (bench/README.md,
 * "Memory"). Bun exposes `Bun.gc` (used without blocking: see {@link hostCollect}); V8 (Deno)
 * only with `--expose-gc`, and without it this does nothing.
 *
 * Two conditions gate a collection:
 * - Growth: the resident memory grew by a tenth plus 16 MiB since the last one, so a burst brings
 *   a few collections, not one per check.
 * - Time share: a full collection's pause grows with what is alive (hundreds of milliseconds at
 *   100,000 cached objects, where growth alone let them take a fifth of the main thread). Their
 *   measured durations are paid from a budget, as Go's GC CPU limiter does with a leaky bucket:
 *   it holds {@link GC_BURST_MS} at most and earns one millisecond per {@link GC_TIME_RATIO} of
 *   time outside the forced collections, and a collection starts only while it is not overdrawn.
 *   Over any stretch the forced collections thus take at most a tenth of the time plus the burst,
 *   so the few short collections of a burst at a small heap (tens of milliseconds each at 10,000
 *   objects) run as they did without the bound, while at a large heap the bound takes over after
 *   two or three. A collection held back by the budget is not dropped: one timer re-checks when
 *   it is allowed, so the garbage of a burst's end is still returned promptly.
 */
import process from "node:process";
import { backgroundClock, type Clock, type TimerHandle } from "../time/clock.ts";

/** Growth of the resident memory since the last collection that makes the next one worth its pause. */
export const GC_GROWTH = 0.1;
/** ... and at least this many bytes. */
export const GC_MIN_GROWTH = 16 * 1024 * 1024;
/**
 * Milliseconds of other work that earn one millisecond of forced collection: 9 bounds the forced
 * collections to 1 / (1 + 9), a tenth of the time, over stretches longer than the burst (the
 * ratio the JVM's `-XX:GCTimeRatio` sets for its whole collector).
 */
export const GC_TIME_RATIO = 9;
/** Milliseconds of forced collection the budget holds when full: what a burst may take at once. */
export const GC_BURST_MS = 1_000;
/** Float error tolerated in the budget (milliseconds). */
const ROUNDING_MS = 1e-6;

/** What a {@link GrowthCollector} runs and reads; the defaults are the host's. */
export interface GrowthCollectorOptions {
  /** Runs a full collection, or asks the runtime for one (its duration is what the budget pays). */
  collect: () => void;
  /** The process's resident memory in bytes. */
  rss: () => number;
  /** Measures each collection and times the deferred re-check (default: unref'd real timers). */
  clock?: Clock;
  /** Relative growth that makes a collection worth it (default {@link GC_GROWTH}). */
  growth?: number;
  /** Absolute growth in bytes added to it (default {@link GC_MIN_GROWTH}). */
  minGrowth?: number;
  /** Milliseconds of other work per millisecond of collection (default {@link GC_TIME_RATIO}). */
  timeRatio?: number;
  /** Milliseconds of collection the budget holds when full (default {@link GC_BURST_MS}). */
  burstMs?: number;
}

/** Forces full collections when the process grew, within a bounded share of the time. */
export class GrowthCollector {
  readonly #collect: () => void;
  readonly #rss: () => number;
  readonly #clock: Clock;
  readonly #growth: number;
  readonly #minGrowth: number;
  readonly #timeRatio: number;
  readonly #burstMs: number;
  /** Resident memory right after the last collection (0 before the first). */
  #rssAfterLast = 0;
  /** Milliseconds of collection allowed now (negative: overdrawn), as of {@link #earnedAt}. */
  #budgetMs: number;
  #earnedAt: number;
  #retry: TimerHandle | undefined;

  /** A collector that has not collected yet. */
  constructor(options: GrowthCollectorOptions) {
    this.#collect = options.collect;
    this.#rss = options.rss;
    this.#clock = options.clock ?? backgroundClock;
    this.#growth = options.growth ?? GC_GROWTH;
    this.#minGrowth = options.minGrowth ?? GC_MIN_GROWTH;
    this.#timeRatio = options.timeRatio ?? GC_TIME_RATIO;
    this.#burstMs = options.burstMs ?? GC_BURST_MS;
    this.#budgetMs = this.#burstMs;
    this.#earnedAt = this.#clock.now();
  }

  /**
   * Runs (or, on Bun, asks the collector threads for) a full collection when the resident memory
   * grew enough since the last one and the time budget is not overdrawn; cheap otherwise (one read
   * of the resident memory). When only the budget held it back, one timer re-checks when it
   * allows. Returns whether it collected. After an asked-for collection the memory is read before
   * the collector returns it, so the next threshold starts from there (fewer collections, as
   * measured in bench/README.md, item 1).
   */
  collectIfGrown(): boolean {
    if (this.#rss() < this.#rssAfterLast * (1 + this.#growth) + this.#minGrowth) return false;
    const start = this.#clock.now();
    this.#earn(start);
    if (this.#budgetMs < -ROUNDING_MS) {
      this.#retry ??= this.#clock.setTimeout(() => {
        this.#retry = undefined;
        this.collectIfGrown();
      }, -this.#budgetMs * this.#timeRatio);
      return false;
    }
    this.#collect();
    const end = this.#clock.now();
    // The collection's own time earns nothing: only the time outside them does.
    this.#budgetMs -= end - start;
    this.#earnedAt = end;
    this.#rssAfterLast = this.#rss();
    return true;
  }

  #earn(now: number): void {
    if (now <= this.#earnedAt) return;
    this.#budgetMs = Math.min(this.#burstMs, this.#budgetMs + (now - this.#earnedAt) / this.#timeRatio);
    this.#earnedAt = now;
  }
}

/**
 * The host's full collection: on Bun `Bun.gc(false)`, a collection JavaScriptCore runs on its
 * collector threads (measured against `Bun.gc(true)`, the synchronous one, in a first pass over
 * 10,000 cached objects: peak 134-138 instead of 143 MiB, settled 107 instead of 123 MiB, and
 * about 1 ms of the main thread instead of 215-244 ms; over 100,000, 0.2 % of the main thread
 * instead of 13-41 %); V8's `gc()` when exposed (synchronous: there the time budget bounds it);
 * else none.
 */
export function hostCollect(): (() => void) | undefined {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) return () => g.Bun!.gc(false);
  return g.gc;
}

const hostCollector = (() => {
  const collect = hostCollect();
  return collect && new GrowthCollector({ collect, rss: () => process.memoryUsage.rss() });
})();

/**
 * The process-wide {@link GrowthCollector.collectIfGrown}: false without a host collector (V8
 * without `--expose-gc`).
 */
export function collectIfGrown(): boolean {
  return hostCollector?.collectIfGrown() ?? false;
}
