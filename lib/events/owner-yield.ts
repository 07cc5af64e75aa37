/**
 * Yielding to the owner: while the owner's own writes wait (its `busy` signal), event writes stay
 * at the window's floor, and the events of a namespace with a burst waiting are held until they
 * are `busyHoldMs` old, so a burst's events go out mostly after the reconciles they would slow
 * down. A namespace with a few events (another tenant's) is never held.
 */
import type { Series } from "./series.ts";

/** While the owner is busy, a namespace with more than this many series waiting is a burst: its events are held. */
export const HOLD_BACKLOG = 10;

/**
 * The owner counts as busy until its signal has been off this long: a work queue that empties for a
 * moment, or the last reconciles of a burst still writing, do not get a flood of released events.
 */
export const BUSY_GRACE_MS = 1000;

/** While series are held, the owner's busy signal is asked again at least this often. */
export const HOLD_POLL_MS = 250;

/** The owner's busy signal, with its grace, and the hold rule. */
export class OwnerYield {
  readonly #busy?: () => boolean;
  readonly #holdMs: number;
  #lastBusyAt = -Infinity;

  /**
   * @param busy the owner's signal; called before each write, a throw counts as not busy
   * @param holdMs how old a burst's events get before they are written while busy (0: never held)
   */
  constructor(busy: (() => boolean) | undefined, holdMs: number) {
    this.#busy = busy;
    this.#holdMs = holdMs;
  }

  /** Whether the owner is busy at `now` (monotonic): its signal, or its last "busy" within {@link BUSY_GRACE_MS}. */
  busy(now: number): boolean {
    let busy = false;
    try {
      busy = this.#busy?.() === true;
    } catch { /* a broken signal must not stop the events: not busy */ }
    if (busy) this.#lastBusyAt = now;
    return now - this.#lastBusyAt < BUSY_GRACE_MS;
  }

  /** Whether `s` waits for the owner: its namespace has a burst waiting and it is younger than the hold. */
  holds(s: Series, waitingInNamespace: number, now: number): boolean {
    return this.#holdMs > 0 && now - s.pendingSince < this.#holdMs && waitingInNamespace > HOLD_BACKLOG;
  }

  /** Whether a held series is still young enough to stay held while the owner is busy. */
  stillYoung(s: Series, now: number): boolean {
    return now - s.pendingSince < this.#holdMs;
  }

  /** When the oldest held series (emitted at `pendingSince`) is due, capped by the busy-signal poll. */
  nextCheckIn(oldestPendingSince: number | undefined, now: number): number {
    const due = oldestPendingSince === undefined ? Infinity : oldestPendingSince + this.#holdMs;
    return Math.max(0, Math.min(due - now, HOLD_POLL_MS));
  }
}
