/**
 * What a full write queue does: no occurrence is dropped for it; the oldest waiting series (in
 * the send queue's fold order, never one being written) gives up its text instead, and its
 * unwritten count moves into an overflow Event of its (namespace, type, reason). The overflow
 * Event is a series like any other (same budgets and update interval), about the object of the
 * first series folded into it.
 */
import type { EventMetrics } from "./metrics.ts";
import { normalizeMessage } from "./normalize.ts";
import { describeRef } from "./reference.ts";
import type { SendQueue } from "./send-queue.ts";
import { addOccurrences, newSeries, rollBackToServer, type Series } from "./series.ts";

/** What folding needs from the writer. */
export interface OverflowDeps {
  queue: SendQueue;
  settings: { maxQueue: number; keepNewlines: boolean };
  metrics: EventMetrics;
  /** A fresh unique Event name for the series' object. */
  newName(s: Series): string;
  /** Removes a never-written series from the correlator's index. */
  onForget(s: Series): void;
  /** Takes a series out of the queue (it no longer needs a write). */
  unpend(s: Series): void;
  /** Queues a write of a series. */
  schedule(s: Series): void;
  /** Reports folded occurrences (for the warning summary). */
  onOverflow?(example: string, occurrences: number): void;
}

/** The overflow Events by (namespace, type, reason), while they have something to write. */
export class OverflowEvents {
  readonly #d: OverflowDeps;
  readonly #byKey = new Map<string, Series>();

  constructor(deps: OverflowDeps) {
    this.#d = deps;
  }

  /**
   * Takes a new series into the queue. When `maxQueue` series wait, the oldest waiting series
   * (Normal before Warning, count updates before creates) are folded into overflow Events until
   * there is room; when nothing can be folded, `s` itself is. Returns the series that now carries
   * `s`'s occurrence: `s`, or the overflow Event it was folded into. The queue holds at most
   * `maxQueue` series plus one overflow Event per (namespace, type, reason).
   */
  admit(s: Series, now: number): Series {
    const max = this.#d.settings.maxQueue;
    // Overflow Events do not count: a fold that starts a new one must still make room, or one
    // new series would fold every waiting series of another (namespace, type, reason).
    const waiting = () => this.#d.queue.size - this.#d.queue.overflowSize;
    while (waiting() >= max) {
      const victim = this.#victim();
      if (!victim) break;
      this.#fold(victim, now);
    }
    if (waiting() < max) return s;
    return this.#fold(s, now);
  }

  /** Forgets an overflow Event that has nothing left to write (a later fold starts a new one). */
  settled(s: Series): void {
    if (s.overflow && !s.inFlight && this.#byKey.get(s.key) === s) this.#byKey.delete(s.key);
  }

  /** The oldest waiting series that may give up its text. */
  #victim(): Series | undefined {
    for (const v of this.#d.queue.inFoldOrder()) {
      // Never one being written, nor one whose create may have gone through unanswered (its
      // count could then be on the server twice), nor an overflow Event itself.
      if (!v.inFlight && !v.overflow && !v.unansweredCreate) return v;
    }
    return undefined;
  }

  /**
   * Moves the unwritten occurrences of `v` into the overflow Event of its (namespace, type,
   * reason), creating that Event if needed; `v` gives up its text (a never-created `v` is
   * forgotten). Returns the overflow Event.
   */
  #fold(v: Series, now: number): Series {
    const key = `\u0005overflow\u0002${v.namespace}\u0002${v.type}\u0002${v.reason}`;
    let a = this.#byKey.get(key);
    if (!a) {
      a = newSeries({
        key,
        budgetKey: key,
        ref: v.ref,
        namespace: v.namespace,
        type: v.type,
        reason: v.reason,
        action: v.action,
        message: "",
        combined: false,
        name: this.#d.newName(v),
        at: now,
      });
      a.overflow = true;
      a.folded = 0;
      a.count = 0;
      a.firstAt = v.created ? v.pendingSince : v.firstAt;
      a.lastAt = v.lastAt;
      a.pendingSince = v.pendingSince;
      a.evicted = true; // never in the correlator's index
      this.#byKey.set(key, a);
    }
    const unwritten = v.count - v.serverCount;
    if (unwritten > 0) {
      if (a.inFlight) {
        a.nextPendingSince = Math.min(a.nextPendingSince ?? Infinity, v.pendingSince);
      } else {
        a.pendingSince = a.count > a.serverCount ? Math.min(a.pendingSince, v.pendingSince) : v.pendingSince;
      }
      addOccurrences(a, unwritten);
      this.#d.metrics.overflow.inc({ type: v.type }, unwritten);
      this.#d.onOverflow?.(describeRef(v.ref), unwritten);
    }
    a.folded = (a.folded ?? 0) + 1;
    if (!a.created) a.firstAt = Math.min(a.firstAt, v.created ? v.pendingSince : v.firstAt);
    a.lastAt = Math.max(a.lastAt, v.lastAt);
    a.message = normalizeMessage(
      `(combined from ${a.folded} series while the event queue was full; latest for ${
        describeRef(v.ref)
      }): ${v.message}`,
      this.#d.settings.keepNewlines,
    );
    if (rollBackToServer(v)) this.#d.onForget(v);
    this.#d.unpend(v);
    this.#d.schedule(a);
    return a;
  }
}
