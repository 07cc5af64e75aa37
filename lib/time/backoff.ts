/**
 * Exponential backoff, the one the whole toolkit uses: the client's retries, the informer's
 * relists, the leader elector's retries, the event writer's failures and the queue's per-key
 * delays. The delay doubles (by `factor`) from `initialMs` up to `maxMs`, with a random share of
 * jitter, and starts over once `resetAfterMs` passed without a failure: like kube-rs's
 * backoff-with-reset-timer, a watch that worked for a while and then dropped is retried quickly,
 * while one that keeps failing backs off.
 */
import type { Clock } from "./clock.ts";
import { realClock } from "./clock.ts";

/** How a {@link Backoff} grows. */
export interface BackoffOptions {
  /** The first delay. */
  initialMs: number;
  /** The largest delay (before jitter). */
  maxMs: number;
  /** The growth per failure (default 2). */
  factor?: number;
  /** Adds up to this share of the delay at random (client-go's `wait.Jitter`; default 0). */
  jitter?: number;
  /** Starts over from `initialMs` when this long passed since the last delay was taken. */
  resetAfterMs?: number;
  /** The clock `resetAfterMs` is measured on (default the real clock). */
  clock?: Clock;
  /** The random source of the jitter, in [0, 1) (default Math.random). */
  random?: () => number;
}

/**
 * `ms` plus a random share of up to `factor × ms` (client-go's `wait.Jitter`); `factor` 0 gives
 * `ms` unchanged.
 */
export function jitter(ms: number, factor: number, random: () => number = Math.random): number {
  return factor > 0 ? ms + random() * factor * ms : ms;
}

/** The delay before attempt `failures + 1` of an exponential backoff, without jitter. */
export function exponentialDelay(failures: number, initialMs: number, maxMs: number, factor = 2): number {
  return Math.min(maxMs, initialMs * factor ** Math.max(0, failures));
}

/** One exponential backoff; {@link Backoff.next} after each failure, {@link Backoff.reset} after a success. */
export class Backoff {
  readonly #options: BackoffOptions;
  readonly #clock: Clock;
  #failures = 0;
  #lastAt: number | undefined;

  /** A backoff with no failure counted yet. */
  constructor(options: BackoffOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
  }

  /** Failures counted since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** The delay to wait after a failure; each call grows the next one. */
  next(): number {
    const { initialMs, maxMs, factor, resetAfterMs } = this.#options;
    const now = this.#clock.now();
    if (resetAfterMs !== undefined && this.#lastAt !== undefined && now - this.#lastAt >= resetAfterMs) {
      this.#failures = 0;
    }
    this.#lastAt = now;
    const base = exponentialDelay(this.#failures++, initialMs, maxMs, factor);
    return jitter(base, this.#options.jitter ?? 0, this.#options.random);
  }

  /** Starts over from the first delay (after a success). */
  reset(): void {
    this.#failures = 0;
    this.#lastAt = undefined;
  }
}
