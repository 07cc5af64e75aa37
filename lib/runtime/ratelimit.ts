/**
 * Rate limiters of the work queue, with client-go's semantics (`util/workqueue/default_rate_limiters.go`):
 * a limiter says how long a key must wait before its next attempt, and `forget` resets its
 * per-key state after a success.
 */
import { exponentialDelay } from "../time/backoff.ts";
import { type Clock, realClock } from "../time/clock.ts";
import { TokenBucket } from "../time/token-bucket.ts";

/** Decides the delay before a key's next attempt. */
export interface RateLimiter {
  /** The delay (ms) before the next attempt of `key`; counts one more failure for it. */
  when(key: string): number;
  /** Clears the per-key state (after a success). Does not touch the queue. */
  forget(key: string): void;
  /** Failures counted for `key` since the last {@link RateLimiter.forget}. */
  numRequeues(key: string): number;
}

/**
 * Per-key exponential backoff: `base · 2^failures`, capped at `max`. The controller-runtime
 * default is 5 ms to 1000 s: 5, 10, 20, 40 ms, ..., 655.36 s on the 18th call, 1000 s from the 19th.
 */
export class ExponentialRateLimiter implements RateLimiter {
  #failures = new Map<string, number>();
  /**
   * Doubling from `baseMs` up to `maxMs`.
   * @param baseMs the first delay (default 5 ms)
   * @param maxMs the cap (default 1000 s)
   */
  constructor(readonly baseMs = 5, readonly maxMs = 1_000_000) {}

  when(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    return exponentialDelay(n, this.baseMs, this.maxMs);
  }
  forget(key: string): void {
    this.#failures.delete(key);
  }
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * A global token bucket (`rate.NewLimiter(qps, burst)`, default 10 qps, burst 100). `when`
 * reserves a token whether or not the caller uses it: the bucket starts full, so the first
 * `burst` calls get 0 and each later call waits 1/qps longer. It has no per-key state.
 */
export class BucketRateLimiter implements RateLimiter {
  readonly #bucket: TokenBucket;
  /**
   * A full bucket.
   * @param qps tokens refilled per second (default 10)
   * @param burst the bucket's size, free at first (default 100)
   * @param clock the clock the refill runs on (default the real clock)
   */
  constructor(readonly qps = 10, readonly burst = 100, readonly clock: Clock = realClock) {
    this.#bucket = new TokenBucket({ burst, refillMs: 1000 / qps }, clock.now());
  }

  when(_key: string): number {
    const now = this.clock.now();
    const wait = this.#bucket.waitMs(now);
    // Taken even when none is free: the debt is the reservation later calls queue behind.
    this.#bucket.take(now);
    return wait;
  }
  forget(_key: string): void {}
  numRequeues(_key: string): number {
    return 0;
  }
}

/** The maximum of several limiters' delays (client-go `MaxOfRateLimiter`). */
export class MaxOfRateLimiter implements RateLimiter {
  /** The limiters whose maximum is taken. */
  readonly limiters: RateLimiter[];
  /**
   * The maximum of `limiters`.
   * @param limiters the limiters whose maximum is taken
   */
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    return this.limiters.reduce((m, l) => Math.max(m, l.when(key)), 0);
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  numRequeues(key: string): number {
    return this.limiters.reduce((m, l) => Math.max(m, l.numRequeues(key)), 0);
  }
}

/**
 * Fast delays for the first `maxFast` failures of a key, then slow ones (client-go
 * `ItemFastSlowRateLimiter`).
 */
export class FastSlowRateLimiter implements RateLimiter {
  #failures = new Map<string, number>();
  /**
   * Fast, then slow.
   * @param fastMs the delay of the first `maxFast` failures
   * @param slowMs the delay of later failures
   * @param maxFast how many failures get the fast delay
   */
  constructor(readonly fastMs: number, readonly slowMs: number, readonly maxFast: number) {}
  when(key: string): number {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    return n <= this.maxFast ? this.fastMs : this.slowMs;
  }
  forget(key: string): void {
    this.#failures.delete(key);
  }
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/** Caps another limiter's delay at `maxDelayMs` (client-go `WithMaxWaitRateLimiter`). */
export class MaxWaitRateLimiter implements RateLimiter {
  /**
   * `inner`, capped.
   * @param inner the limiter whose delay is capped
   * @param maxDelayMs the cap
   */
  constructor(readonly inner: RateLimiter, readonly maxDelayMs: number) {}
  when(key: string): number {
    return Math.min(this.maxDelayMs, this.inner.when(key));
  }
  forget(key: string): void {
    this.inner.forget(key);
  }
  numRequeues(key: string): number {
    return this.inner.numRequeues(key);
  }
}

/**
 * The default limiter of a controller: per-key exponential 5 ms to 1000 s only, as in
 * controller-runtime since v0.23 (the token bucket was dropped because its reservations pile up:
 * 10k failing keys pushed the tail about 16 minutes out, kubernetes#104554). Pass
 * `{ qps, burst }` to add the classic global bucket.
 */
export function defaultControllerRateLimiter(
  options: { baseMs?: number; maxMs?: number; qps?: number; burst?: number; clock?: Clock } = {},
): RateLimiter {
  const exp = new ExponentialRateLimiter(options.baseMs ?? 5, options.maxMs ?? 1_000_000);
  if (options.qps === undefined) return exp;
  return new MaxOfRateLimiter(exp, new BucketRateLimiter(options.qps, options.burst ?? 100, options.clock));
}
