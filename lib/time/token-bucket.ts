/**
 * A token bucket, driven by the caller's monotonic time (a {@link Clock}'s `now()`), so it runs on
 * fake time in tests and a stepped wall clock never stops its refills. The event recorder budgets
 * API calls with it; the controller's rate limiter spaces retries with it.
 */

/** Float error tolerated in a wait (milliseconds). */
const ROUNDING_MS = 1e-6;

/** A bucket's size: `burst` tokens, refilled one per `refillMs`. */
export interface Budget {
  /** Tokens when full (calls allowed at once). */
  burst: number;
  /** Milliseconds to refill one token. */
  refillMs: number;
}

/** `burst` tokens, refilled one per `refillMs`. */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;
  /** The bucket's size and refill rate. */
  readonly budget: Budget;

  /**
   * A full bucket.
   * @param now the current monotonic time, in the clock's milliseconds
   */
  constructor(budget: Budget, now: number) {
    this.budget = budget;
    this.#tokens = budget.burst;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    const { burst, refillMs } = this.budget;
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(burst, this.#tokens + (now - this.#updatedAt) / refillMs);
    }
    this.#updatedAt = Math.max(this.#updatedAt, now);
  }

  /** Milliseconds until a token is available (0 when one is available now). */
  waitMs(now: number): number {
    this.#refill(now);
    // Refills add up fractions with float error (1 − (0.25 + 0.749) is 0.0010000000000000009),
    // so a wait within a nanosecond of a whole millisecond is that millisecond, not one more.
    const ms = (1 - this.#tokens) * this.budget.refillMs - ROUNDING_MS;
    return ms <= 0 ? 0 : Math.ceil(ms);
  }

  /** Takes a token; call only after {@link TokenBucket.waitMs} returned 0 (or to overdraw at shutdown). */
  take(now: number): void {
    this.#refill(now);
    this.#tokens -= 1;
  }

  /** True when the bucket is full again (so it can be forgotten without changing behaviour). */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.budget.burst;
  }
}
