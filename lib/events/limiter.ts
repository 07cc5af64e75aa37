/**
 * The adaptive limit on concurrent Event writes (AIMD, as TCP's congestion window): the recorder
 * protects the API server by reacting to it, not by a fixed rate.
 *
 * - The window grows while writes succeed at a latency near the best seen: by one per success
 *   (doubling per round trip) until the first sign of congestion, then by one per window's worth
 *   of successes. It only grows while at least half of it is in use.
 * - It halves on a 429, a 5xx or a connection error, and when a write takes well above the
 *   baseline (more than `LATENCY_TOLERANCE` x the best latency of the last one to two minutes,
 *   plus `LATENCY_SLACK_MS`). Answers to writes that started before the last decrease neither
 *   halve it again nor grow it, so one congested round trip halves it once, not once per write.
 * - A `Retry-After` pauses every event write until it has passed.
 * - It never goes below `min` or above `max`.
 *
 * Everything runs on the clock's monotonic time. The owner's "busy" signal (its own writes are waiting)
 * is applied by the writer: while it is on, at most `min` writes are in flight, whatever the window.
 */
import type { Clock } from "../time/clock.ts";

/** A write slower than baseline x this (plus {@link LATENCY_SLACK_MS}) counts as congestion. */
export const LATENCY_TOLERANCE = 3;
/** Absolute slack on top of the latency tolerance, so a 1 ms baseline does not make 4 ms look congested. */
export const LATENCY_SLACK_MS = 20;
/** The baseline is the best latency seen in the current and the previous window of this length. */
export const BASELINE_WINDOW_MS = 60_000;

/** The bounds of the window. */
export interface ConcurrencyBounds {
  /** The floor: also the limit while the owner is busy. At least 1. */
  min: number;
  /** The window to start with. */
  initial: number;
  /** The ceiling. */
  max: number;
}

/** What the limiter needs to know about one write; from {@link WriteLimiter.begin}. */
export interface WriteTicket {
  startedAt: number;
}

/** Why the window was halved. */
export type BackoffCause = "throttled" | "server_error" | "latency";

/** Reports of state changes, for metrics. */
export interface LimiterObserver {
  window(limit: number): void;
  backoff(cause: BackoffCause): void;
  paused(ms: number): void;
}

/** An AIMD limit on concurrent writes, with a Retry-After pause. */
export class WriteLimiter {
  readonly bounds: ConcurrencyBounds;
  readonly #clock: Clock;
  readonly #observer?: LimiterObserver;
  #window: number;
  #slowStart = true;
  #lastDecreaseAt = -Infinity;
  #pausedUntil = -Infinity;
  #minCurrent = Infinity;
  #minPrevious = Infinity;
  #baselineSince: number;

  constructor(bounds: ConcurrencyBounds, clock: Clock, observer?: LimiterObserver) {
    const min = Math.max(1, Math.floor(bounds.min));
    const max = Math.max(min, Math.floor(bounds.max));
    const initial = Math.min(max, Math.max(min, Math.floor(bounds.initial)));
    this.bounds = { min, initial, max };
    this.#clock = clock;
    this.#observer = observer;
    this.#window = initial;
    this.#baselineSince = clock.now();
    observer?.window(initial);
  }

  /** The current window: writes allowed in flight at once when the owner is not busy. */
  get limit(): number {
    return Math.floor(this.#window);
  }

  /** Writes allowed in flight now: the floor while the owner is busy, else the window. */
  allowed(busy: boolean): number {
    return busy ? this.bounds.min : this.limit;
  }

  /** Until when writes are paused by a Retry-After (a past time when they are not). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** The best recent latency in ms (undefined before the first success). */
  get baselineMs(): number | undefined {
    this.#rollBaseline();
    const b = Math.min(this.#minCurrent, this.#minPrevious);
    return Number.isFinite(b) ? b : undefined;
  }

  /** A write starts. */
  begin(): WriteTicket {
    return { startedAt: this.#clock.now() };
  }

  /**
   * The write succeeded while `inFlight` writes (this one included) were in flight; returns the
   * latency it measured (ms). The window grows only when at least half of it is in use, so a
   * trickle of events never inflates it to a size that was never tried.
   */
  success(ticket: WriteTicket, inFlight: number): number {
    const now = this.#clock.now();
    const latency = Math.max(0, now - ticket.startedAt);
    this.#rollBaseline();
    this.#minCurrent = Math.min(this.#minCurrent, latency);
    const baseline = Math.min(this.#minCurrent, this.#minPrevious);
    if (latency > baseline * LATENCY_TOLERANCE + LATENCY_SLACK_MS) {
      this.#decrease(ticket, "latency");
      return latency;
    }
    // A write sent before the last decrease was measured under the larger window: its success
    // does not grow the halved one (whatever order the answers of one round trip arrive in).
    if (ticket.startedAt <= this.#lastDecreaseAt) return latency;
    if (inFlight * 2 < this.limit || this.#window >= this.bounds.max) return latency;
    this.#window = Math.min(this.bounds.max, this.#window + (this.#slowStart ? 1 : 1 / this.#window));
    this.#observer?.window(this.limit);
    return latency;
  }

  /** The server refused for overload (429, 5xx) or did not answer; `retryAfterMs` > 0 pauses all writes. */
  overload(ticket: WriteTicket, cause: "throttled" | "server_error", retryAfterMs: number): void {
    if (retryAfterMs > 0) {
      const now = this.#clock.now();
      const until = now + retryAfterMs;
      if (until > this.#pausedUntil) {
        this.#observer?.paused(until - Math.max(now, this.#pausedUntil));
        this.#pausedUntil = until;
      }
    }
    this.#decrease(ticket, cause);
  }

  #decrease(ticket: WriteTicket, cause: BackoffCause): void {
    // One congested round trip halves the window once: later answers to writes sent before the
    // decrease say nothing new.
    if (ticket.startedAt <= this.#lastDecreaseAt) return;
    this.#lastDecreaseAt = this.#clock.now();
    this.#slowStart = false;
    this.#window = Math.max(this.bounds.min, this.#window / 2);
    this.#observer?.backoff(cause);
    this.#observer?.window(this.limit);
  }

  /** The baseline is the minimum over the current and the previous window, so it can rise again. */
  #rollBaseline(): void {
    const now = this.#clock.now();
    if (now - this.#baselineSince < BASELINE_WINDOW_MS) return;
    const windows = Math.floor((now - this.#baselineSince) / BASELINE_WINDOW_MS);
    this.#minPrevious = windows === 1 ? this.#minCurrent : Infinity;
    this.#minCurrent = Infinity;
    this.#baselineSince += windows * BASELINE_WINDOW_MS;
  }
}
