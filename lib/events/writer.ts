/**
 * The background half of the recorder: takes series that need a write from the send queue and
 * writes them, creates first, within per (object, reason) budgets and an adaptive limit on
 * concurrent writes (AIMD on the API server's answers and latency, Retry-After pauses, the
 * owner's busy signal), with per-series retry backoff (so one failing namespace never blocks
 * another), and flushes everything at shutdown.
 */
import { logger } from "../observe/log.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { ObjectBudgets } from "./budgets.ts";
import { Delivery, type WriteContext } from "./delivery.ts";
import type { WriteLimiter } from "./limiter.ts";
import type { DropReason } from "./metrics.ts";
import { OverflowEvents } from "./overflow.ts";
import { OwnerYield } from "./owner-yield.ts";
import { describeRef } from "./reference.ts";
import { SendQueue } from "./send-queue.ts";
import { SEND_ORDER } from "./slots.ts";
import { needsWrite, rollBackToServer, type Series } from "./series.ts";
import type { CloseResult } from "./types.ts";

const log = logger("events");

/** During the shutdown flush a retry waits at most this long. */
const FLUSH_RETRY_CAP_MS = 250;

/** What the writer needs from the recorder. */
export interface WriterDeps extends WriteContext {
  /** Removes a series from the correlator's index (its Event was never created, or it is finished). */
  onForget(s: Series): void;
  /** The owner's busy signal: while true, at most the limiter's floor is in flight. */
  busy?: () => boolean;
  /** Called with what was folded into overflow Events (for the warning summary). */
  onOverflow?(example: string, occurrences: number): void;
}

/** Writes series to the API server. */
export class Writer {
  readonly #d: WriterDeps;
  readonly #clock: Clock;
  readonly #queue = new SendQueue();
  readonly #overflow: OverflowEvents;
  readonly #budgets: ObjectBudgets;
  readonly #owner: OwnerYield;
  readonly #limiter: WriteLimiter;
  readonly #abort = new AbortController();
  readonly #delivery: Delivery;
  #holdTimer?: TimerHandle;
  #pauseTimer?: TimerHandle;
  #inFlight = 0;
  #pumpScheduled = false;
  #flushing = false;
  #stopped = false;
  #flushWrites = 0;
  #idle: (() => void)[] = [];

  constructor(deps: WriterDeps) {
    this.#d = deps;
    this.#clock = deps.clock;
    this.#limiter = deps.limiter;
    this.#budgets = new ObjectBudgets(deps.settings.objectBudget, deps.settings.maxSeries * 2);
    this.#owner = new OwnerYield(deps.busy, deps.settings.busyHoldMs);
    this.#delivery = new Delivery({
      ...deps,
      signal: this.#abort.signal,
      inFlight: () => this.#inFlight,
      drop: (s, reason) => this.#dropSeries(s, reason),
    });
    this.#overflow = new OverflowEvents({
      queue: this.#queue,
      settings: deps.settings,
      metrics: deps.metrics,
      newName: deps.newName,
      onForget: deps.onForget,
      unpend: (s) => this.#unpend(s),
      schedule: (s) => this.schedule(s),
      onOverflow: deps.onOverflow,
    });
  }

  /** Series waiting for a write. */
  get pendingCount(): number {
    return this.#queue.size;
  }

  /** Writes in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Takes a new series into the queue, making room by folding the oldest waiting series into
   * overflow Events when it is full (see overflow.ts). Returns the series that now carries the
   * occurrence: `s`, or the overflow Event it was folded into. No count is ever lost.
   */
  admit(s: Series): Series {
    return this.#overflow.admit(s, this.#clock.now());
  }

  /** Queues a write of `s` if the server lags it, respecting the update interval and retry backoff. */
  schedule(s: Series): void {
    if (this.#stopped) return;
    if (!needsWrite(s)) {
      if (!s.inFlight) this.#unpend(s);
      return;
    }
    if (this.#queue.add(s)) this.#d.metrics.queueDepth.set({}, this.#queue.size);
    if (s.inFlight || s.readyIn !== undefined) return;
    const now = this.#clock.now();
    let due = s.attempt > 0 ? s.dueAt : s.created ? s.lastWriteAt + this.#d.settings.updateIntervalMs : now;
    if (this.#flushing) due = Math.min(due, now + (s.attempt > 0 ? FLUSH_RETRY_CAP_MS : 0));
    if (s.timer !== undefined) {
      if (s.dueAt <= due) return;
      this.#clock.clearTimeout(s.timer);
      s.timer = undefined;
    }
    s.dueAt = due;
    if (due <= now) this.#makeReady(s);
    else this.#wakeAt(s, due - now);
  }

  /** Flushes everything within `timeoutMs` on the clock, then stops for good. */
  async flush(timeoutMs: number): Promise<CloseResult> {
    this.#flushing = true;
    for (const s of this.#queue.all()) {
      if (s.timer !== undefined) {
        this.#clock.clearTimeout(s.timer);
        s.timer = undefined;
      }
      this.schedule(s);
    }
    this.#pump();
    // The clock's timers may not keep the process alive (backgroundClock): the real clock's do,
    // so a program that awaits close() does not end before the flush.
    const keepAlive = realClock.setTimeout(() => {}, timeoutMs);
    let deadline: TimerHandle | undefined;
    const idle = await Promise.race([
      this.#whenIdle().then(() => true),
      new Promise<boolean>((resolve) => deadline = this.#clock.setTimeout(() => resolve(false), timeoutMs)),
    ]);
    this.#clock.clearTimeout(deadline);
    realClock.clearTimeout(keepAlive);
    this.#stopped = true;
    let abandoned = 0;
    if (!idle) {
      this.#abort.abort(new Error("event recorder closed"));
      for (const s of this.#queue.all()) {
        abandoned += s.count - s.serverCount;
        this.#dropSeries(s, "abandoned");
      }
      log.warning("event recorder closed after {timeoutMs} ms with {abandoned} occurrences unwritten", {
        timeoutMs,
        abandoned,
      });
    } else {
      log.debug("event recorder closed: {writes} writes flushed", { writes: this.#flushWrites });
    }
    this.#clock.clearTimeout(this.#pauseTimer);
    this.#clock.clearTimeout(this.#holdTimer);
    this.#d.metrics.inFlight.set({}, 0);
    this.#d.metrics.held.set({}, 0);
    this.#d.metrics.yielding.set({}, 0);
    return { flushed: this.#flushWrites, abandoned };
  }

  #whenIdle(): Promise<void> {
    if (this.#queue.size === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #checkIdle(): void {
    if (this.#queue.size !== 0 || this.#inFlight !== 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  /** `s` needs no write any more: out of the queue, its timer cleared. */
  #unpend(s: Series): void {
    this.#clock.clearTimeout(s.timer);
    s.timer = undefined;
    this.#overflow.settled(s);
    if (!this.#queue.remove(s)) return;
    this.#d.metrics.queueDepth.set({}, this.#queue.size);
    this.#checkIdle();
  }

  /** Makes `s` due again after `ms` (its update interval, retry backoff or budget). */
  #wakeAt(s: Series, ms: number): void {
    s.timer = this.#clock.setTimeout(() => {
      s.timer = undefined;
      if (!this.#stopped && s.pending && !s.inFlight) this.#makeReady(s);
    }, ms);
  }

  #makeReady(s: Series): void {
    this.#queue.ready(s);
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      // A microtask, not a timer: the first occurrence goes out right after the caller's code.
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
  }

  /** Starts every write the window, the budgets and the owner allow, in send order. */
  #pump(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const pausedUntil = this.#limiter.pausedUntil;
    if (now < pausedUntil) {
      // The API server asked for a pause (Retry-After): nothing is sent until it has passed.
      this.#pauseTimer ??= this.#clock.setTimeout(() => {
        this.#pauseTimer = undefined;
        this.#pump();
      }, pausedUntil - now);
      return;
    }
    // At shutdown the owner is stopping: its busy signal no longer matters.
    const busy = !this.#flushing && this.#owner.busy(now);
    const limit = this.#limiter.allowed(busy);
    const queue = this.#queue;
    if (queue.heldCount > 0) queue.release((s) => busy && this.#owner.stillYoung(s, now));
    let yielding = false;
    outer: for (const slot of SEND_ORDER) {
      for (let s = queue.peek(slot); s; s = queue.peek(slot)) {
        if (this.#inFlight >= limit) {
          yielding = busy && this.#inFlight < this.#limiter.limit;
          break outer;
        }
        if (busy && this.#owner.holds(s, queue.waitingIn(s.namespace), now)) {
          // The owner's writes wait and this namespace has a burst of events: they wait too, up to
          // busyHoldMs after their emission, so the burst's events mostly go out after its reconciles.
          queue.hold(s);
          yielding = true;
          continue;
        }
        if (!this.#flushing) {
          const wait = this.#budgets.take(s.budgetKey, now);
          if (wait > 0) {
            // This object's budget is spent: its counts keep growing in memory until a token comes.
            queue.unready(s);
            s.dueAt = now + wait;
            this.#wakeAt(s, wait);
            continue;
          }
        }
        queue.take(slot);
        this.#start(s);
      }
    }
    this.#d.metrics.yielding.set({}, yielding ? 1 : 0);
    this.#d.metrics.held.set({}, queue.heldCount);
    if (queue.heldCount > 0 && this.#holdTimer === undefined) {
      // Re-runs the pump when the oldest held series is due, and meanwhile polls the owner's signal.
      const ms = this.#owner.nextCheckIn(queue.oldestHeld()?.pendingSince, now);
      this.#holdTimer = this.#clock.setTimeout(() => {
        this.#holdTimer = undefined;
        this.#pump();
      }, ms);
    }
  }

  /** Sends one write of `s` in the background; when it ends, `s` is rescheduled and the pump runs. */
  #start(s: Series): void {
    const ticket = this.#limiter.begin();
    this.#inFlight++;
    this.#d.metrics.inFlight.set({}, this.#inFlight);
    s.inFlight = true;
    void this.#delivery.send(s, ticket)
      .then((written) => {
        if (written && this.#flushing) this.#flushWrites++;
      })
      .catch((err) => this.#internalError(s, err))
      .finally(() => {
        s.inFlight = false;
        s.sendingCount = -1;
        s.nextPendingSince = undefined;
        this.#inFlight--;
        this.#d.metrics.inFlight.set({}, this.#inFlight);
        try {
          this.schedule(s);
          if (!s.pending && s.evicted) this.#d.onForget(s);
          this.#checkIdle();
          this.#pump();
        } catch (err) {
          this.#internalError(s, err);
        }
      });
  }

  /** A recorder bug: logged and counted, never thrown at the operator (no unhandled rejection either). */
  #internalError(s: Series, err: unknown): void {
    log.error("event recorder internal error for {object}: {error}", {
      object: describeRef(s.ref),
      error: String(err),
    });
    try {
      this.#dropSeries(s, "internal");
      this.#checkIdle();
    } catch { /* already logged; the series stays as it is */ }
  }

  /** Drops the unwritten occurrences of a series; a never-created series is forgotten. */
  #dropSeries(s: Series, reason: DropReason): void {
    const lost = s.count - s.serverCount;
    if (lost > 0) this.#d.metrics.dropped.inc({ reason }, lost);
    if (rollBackToServer(s)) this.#d.onForget(s);
    this.#unpend(s);
  }
}
