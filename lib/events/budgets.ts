/**
 * The per (object, reason) API-call budgets: one token bucket each, on the clock's monotonic time
 * (so a wall clock stepped back never stops a refill). A spent budget delays a write, never an
 * occurrence: the series keeps counting in memory and the delayed write carries the whole count.
 */
import { type Budget, TokenBucket } from "../time/token-bucket.ts";

/** Token buckets by budget key, at most `maxKeys` of them. */
export class ObjectBudgets {
  readonly #budget: Budget;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(budget: Budget, maxKeys: number) {
    this.#budget = budget;
    this.#maxKeys = maxKeys;
  }

  /**
   * Takes a token for `key` at `now` and returns 0, or returns the milliseconds until one is
   * available (taking nothing).
   */
  take(key: string, now: number): number {
    const bucket = this.#bucket(key, now);
    const wait = bucket.waitMs(now);
    if (wait === 0) bucket.take(now);
    return wait;
  }

  #bucket(key: string, now: number): TokenBucket {
    let b = this.#buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.#budget, now);
      this.#buckets.set(key, b);
      // Bounded: forgetting the oldest bucket only ever makes the budget more generous.
      if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    return b;
  }
}
