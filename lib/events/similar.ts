/**
 * The explosion guard for events that differ only in their message (client-go's
 * EventAggregator): per (object, type, reason, action, related), the first
 * `maxDistinct` distinct messages seen within the window keep their own Events; further distinct
 * messages fold into one "(combined from similar events)" Event. Unlike the Go and Rust
 * recorders, different messages are never merged silently into the first one's text.
 */

/** Prefix of the folded Event's message. */
export const COMBINED_PREFIX = "(combined from similar events): ";

/** Distinct messages of one key with their last-seen times, in last-seen order. */
class Seen extends Map<string, number> {
  touchedAt = -Infinity;
}

/** Remembers recently seen distinct messages per aggregation key, bounded in entries. */
export class SimilarMessages {
  #byKey = new Map<string, Seen>();
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
    if (!seen) {
      seen = new Seen();
      this.#byKey.set(key, seen);
      if (this.#byKey.size > this.maxKeys) this.#byKey.delete(this.#byKey.keys().next().value!);
    } else if (seen.touchedAt !== now) {
      // Re-insert (Map order is the LRU order), at most once per clock tick: this is the hot path.
      this.#byKey.delete(key);
      this.#byKey.set(key, seen);
    }
    seen.touchedAt = now;
    // Messages are kept in last-seen order, so expired ones are at the front.
    for (const [m, at] of seen) {
      if (at + this.windowMs > now) break;
      seen.delete(m);
    }
    const last = seen.get(message);
    if (last === now) return "own";
    if (last !== undefined || seen.size < this.maxDistinct) {
      seen.delete(message);
      seen.set(message, now);
      return "own";
    }
    return "fold";
  }
}
