/**
 * The explosion guard for events that differ only in their message (client-go's
 * EventAggregator, reference §2.2): per (object, type, reason, action, related), the first
 * `maxDistinct` distinct messages seen within the window keep their own Events; further distinct
 * messages fold into one "(combined from similar events)" Event. Unlike the Go and Rust
 * recorders, different messages are never merged silently into the first one's text.
 */

/** Prefix of the folded Event's message. */
export const COMBINED_PREFIX = "(combined from similar events): ";

/** Remembers recently seen distinct messages per aggregation key, bounded in entries. */
export class SimilarMessages {
  #byKey = new Map<string, Map<string, number>>();
  readonly maxDistinct: number;
  readonly windowMs: number;
  readonly maxKeys: number;

  constructor(maxDistinct: number, windowMs: number, maxKeys: number) {
    this.maxDistinct = maxDistinct;
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
  }

  /**
   * Records `message` under `key` at `now` and says whether it keeps its own Event (`own`) or
   * folds into the combined one (`fold`). A message seen before within the window stays `own`.
   */
  classify(key: string, message: string, now: number): "own" | "fold" {
    let seen = this.#byKey.get(key);
    if (seen) {
      this.#byKey.delete(key); // re-insert below: Map order is the LRU order
      for (const [m, at] of seen) if (at + this.windowMs <= now) seen.delete(m);
    } else {
      seen = new Map();
    }
    this.#byKey.set(key, seen);
    if (this.#byKey.size > this.maxKeys) this.#byKey.delete(this.#byKey.keys().next().value!);
    if (seen.has(message) || seen.size < this.maxDistinct) {
      seen.delete(message);
      seen.set(message, now);
      return "own";
    }
    return "fold";
  }

  /** Number of keys remembered (for tests of the bound). */
  get size(): number {
    return this.#byKey.size;
  }
}
