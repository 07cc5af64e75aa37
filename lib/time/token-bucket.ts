/**
 * A token bucket, driven by the caller's monotonic time (a {@link Clock}'s `now()`), so it runs on
 * fake time in tests and a stepped wall clock never stops its refills. The event recorder budgets
 * API calls with it; the controller's rate limiter spaces retries with it.
 */

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
  readonly budget: Budget;

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
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.budget.refillMs);
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
