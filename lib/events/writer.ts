/**
 * The background half of the recorder: a bounded priority queue of series that need a write,
 * per-(object, reason) token buckets, an adaptive limit on concurrent writes (AIMD on the API
 * server's answers and latency, Retry-After pauses, the owner's busy signal), per-series retry
 * backoff (so one failing namespace never blocks another), and the shutdown flush. Within a
 * priority, namespaces take turns (round-robin): one tenant's flood never delays another's events.
 *
 * Priorities (sending order): Warning creates, Normal creates, Warning count updates, Normal count
 * updates. When the queue is full, a new series makes room by folding the oldest waiting series
 * (Normal updates, Normal creates, Warning updates, Warning creates, in that order) into an
 * overflow Event per (namespace, type, reason): the folded series' text is given up, its count
 * never.
 */
import type { KubeClient } from "../kube/client.ts";
import { ApiError, ConnectionError, ServerError, TooManyRequestsError } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import { FairQueue } from "../collections/fair-queue.ts";
import { TokenBucket } from "../time/token-bucket.ts";
import { applyFailure, classifyFailure, type FailureAction } from "./failures.ts";
import { type WriteLimiter, type WriteTicket } from "./limiter.ts";
import type { DropReason, EventMetrics } from "./metrics.ts";
import { normalizeMessage } from "./normalize.ts";
import { describeRef } from "./reference.ts";
import { createBody, needsWrite, type Reporter, type Series, updatePatch } from "./series.ts";
import type { Clock, CloseResult } from "./types.ts";
import { validateEventBody } from "./validate.ts";
import type { RecorderSettings } from "./recorder.ts";

const log = logger("events");

/** Which waiting series gives up its text first when the queue is full: Normal updates, Warning creates last. */
const FOLD_ORDER = [3, 1, 2, 0];
/** During the shutdown flush a retry waits at most this long. */
const FLUSH_RETRY_CAP_MS = 250;
/** While the owner is busy, a namespace with more than this many series waiting is a burst: its events are held. */
export const HOLD_BACKLOG = 10;
/** `readySlot` of a series held back for the owner's writes. */
const HELD = -2;
/** While series are held, the owner's busy signal is asked again at least this often. */
const HOLD_POLL_MS = 250;
/**
 * The owner counts as busy until its signal has been off this long: a work queue that empties for a
 * moment, or the last reconciles of a burst still writing, do not get a flood of released events.
 */
export const BUSY_GRACE_MS = 1000;

/** What the writer needs from the recorder. */
export interface WriterDeps {
  client: KubeClient;
  eventType: ResourceType;
  reporter: Reporter;
  settings: RecorderSettings;
  clock: Clock;
  random: () => number;
  metrics: EventMetrics;
  /** A fresh unique Event name for the series' object. */
  newName(s: Series): string;
  /** Removes a series from the recorder's index (its Event was never created, or it is finished). */
  onForget(s: Series): void;
  /** The adaptive limit on concurrent writes. */
  limiter: WriteLimiter;
  /** The owner's busy signal: while true, at most the limiter's floor is in flight. */
  busy?: () => boolean;
  /** While busy, how old a burst's events get before they are written (0: never held). */
  busyHoldMs: number;
  /** Called once a minute at most with what was folded into overflow Events (for the warning log). */
  onOverflow?(example: string, occurrences: number): void;
}

/** Writes series to the API server. */
export class Writer {
  readonly #d: WriterDeps;
  readonly #pending: Set<Series>[] = [new Set(), new Set(), new Set(), new Set()];
  /** Series due for a write, per slot; namespaces take turns in each (round-robin), FIFO inside one. */
  readonly #ready: FairQueue<Series>[] = [0, 1, 2, 3].map(() => new FairQueue<Series>((s) => s.namespace));
  readonly #buckets = new Map<string, TokenBucket>();
  /** Overflow Events by (namespace, type, reason), while they have something to write. */
  readonly #overflow = new Map<string, Series>();
  /** Series waiting per namespace (to tell a burst from a tenant's occasional event). */
  readonly #pendingByNamespace = new Map<string, number>();
  /** Series held back while the owner is busy, roughly oldest first. */
  readonly #held = new Set<Series>();
  #holdTimer?: unknown;
  #lastBusyAt = -Infinity;
  readonly #limiter: WriteLimiter;
  readonly #abort = new AbortController();
  readonly #logged = new Set<string>();
  #pendingTotal = 0;
  #inFlight = 0;
  #pauseTimer?: unknown;
  #pumpScheduled = false;
  #flushing = false;
  #stopped = false;
  #flushWrites = 0;
  #idle: (() => void)[] = [];

  constructor(deps: WriterDeps) {
    this.#d = deps;
    this.#limiter = deps.limiter;
  }

  /** Series waiting for a write. */
  get pendingCount(): number {
    return this.#pendingTotal;
  }

  /** Writes in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Takes a new series into the queue. When the queue is full, the oldest waiting series (Normal
   * before Warning, count updates before creates, never one being written) are folded into
   * overflow Events until there is room; when nothing can be folded, `s` itself is. Returns the
   * series that now carries `s`'s occurrence: `s`, or the overflow Event it was folded into. No
   * count is ever lost; the queue holds at most `maxQueue` series plus, only when everything
   * waiting is already an overflow Event or being written, one overflow Event per (namespace,
   * type, reason).
   */
  admit(s: Series): Series {
    const max = this.#d.settings.maxQueue;
    while (this.#pendingTotal >= max) {
      const victim = this.#victim();
      if (!victim) break;
      this.#fold(victim);
    }
    if (this.#pendingTotal < max) return s;
    return this.#fold(s);
  }

  /** The oldest waiting series that may give up its text, in {@link FOLD_ORDER}. */
  #victim(): Series | undefined {
    for (const slot of FOLD_ORDER) {
      for (const v of this.#pending[slot]) {
        // Never one being written, nor one whose create may have gone through unanswered (its
        // count could then be on the server twice), nor an overflow Event itself.
        if (!v.inFlight && !v.overflow && !v.unansweredCreate) return v;
      }
    }
    return undefined;
  }

  /**
   * Moves the unwritten occurrences of `v` into the overflow Event of its (namespace, type,
   * reason), creating that Event if needed; `v` gives up its text (a never-created `v` is
   * forgotten). Returns the overflow Event.
   */
  #fold(v: Series): Series {
    const now = this.#d.clock.now();
    const key = `\u0005overflow\u0002${v.namespace}\u0002${v.type}\u0002${v.reason}`;
    let a = this.#overflow.get(key);
    if (!a) {
      a = {
        key,
        budgetKey: key,
        ref: v.ref,
        namespace: v.namespace,
        type: v.type,
        reason: v.reason,
        action: v.action,
        message: "",
        combined: false,
        overflow: true,
        folded: 0,
        name: this.#d.newName(v),
        count: 0,
        serverCount: 0,
        serverMessage: "",
        created: false,
        firstAt: v.created ? v.pendingSince : v.firstAt,
        lastAt: v.lastAt,
        lastWriteAt: -Infinity,
        inFlight: false,
        pending: false,
        evicted: true, // never in the recorder's index
        attempt: 0,
        unansweredCreate: false,
        dueAt: now,
        slot: -1,
        readySlot: -1,
        pendingSince: v.pendingSince,
        sendingCount: -1,
      };
      this.#overflow.set(key, a);
    }
    const unwritten = v.count - v.serverCount;
    if (unwritten > 0) {
      if (a.inFlight) {
        a.nextPendingSince = Math.min(a.nextPendingSince ?? Infinity, v.pendingSince);
      } else {
        a.pendingSince = a.count > a.serverCount ? Math.min(a.pendingSince, v.pendingSince) : v.pendingSince;
      }
      a.count += unwritten;
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
    v.count = v.serverCount;
    v.message = v.serverMessage;
    v.attempt = 0;
    v.failingSince = undefined;
    if (!v.created) {
      v.evicted = true;
      this.#d.onForget(v);
    }
    this.#unpend(v);
    this.schedule(a);
    return a;
  }

  /** Queues a write of `s` if the server lags it, respecting the update interval and retry backoff. */
  schedule(s: Series): void {
    if (this.#stopped) return;
    if (!needsWrite(s)) {
      if (!s.inFlight) this.#unpend(s);
      return;
    }
    this.#pend(s);
    if (s.inFlight || s.readySlot !== -1) return;
    const now = this.#d.clock.now();
    let due = s.attempt > 0 ? s.dueAt : s.created ? s.lastWriteAt + this.#d.settings.updateIntervalMs : now;
    if (this.#flushing) due = Math.min(due, now + (s.attempt > 0 ? FLUSH_RETRY_CAP_MS : 0));
    if (s.timer !== undefined) {
      if (s.dueAt <= due) return;
      this.#d.clock.clearTimeout(s.timer);
      s.timer = undefined;
    }
    s.dueAt = due;
    if (due <= now) {
      this.#makeReady(s);
      return;
    }
    s.timer = this.#d.clock.setTimeout(() => {
      s.timer = undefined;
      if (!this.#stopped && s.pending && !s.inFlight) this.#makeReady(s);
    }, due - now);
  }

  /** Flushes everything within `timeoutMs`, then stops for good. */
  async flush(timeoutMs: number): Promise<CloseResult> {
    this.#flushing = true;
    for (const set of this.#pending) {
      for (const s of set) {
        if (s.timer !== undefined) {
          this.#d.clock.clearTimeout(s.timer);
          s.timer = undefined;
        }
        this.schedule(s);
      }
    }
    this.#pump();
    // The deadline is wall time (the manager's shutdown budget), on a plain referenced timer that
    // also keeps the process alive while we flush (the clock's timers are unref'd).
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const idle = await Promise.race([
      this.#whenIdle().then(() => true),
      new Promise<boolean>((resolve) => deadline = setTimeout(() => resolve(false), timeoutMs)),
    ]);
    clearTimeout(deadline);
    this.#stopped = true;
    let abandoned = 0;
    if (!idle) {
      this.#abort.abort(new Error("event recorder closed"));
      for (const set of this.#pending) {
        for (const s of [...set]) {
          abandoned += s.count - s.serverCount;
          this.#dropSeries(s, "abandoned");
        }
      }
      log.warning("event recorder closed after {timeoutMs} ms with {abandoned} occurrences unwritten", {
        timeoutMs,
        abandoned,
      });
    } else {
      log.debug("event recorder closed: {writes} writes flushed", { writes: this.#flushWrites });
    }
    if (this.#pauseTimer !== undefined) this.#d.clock.clearTimeout(this.#pauseTimer);
    if (this.#holdTimer !== undefined) this.#d.clock.clearTimeout(this.#holdTimer);
    this.#d.metrics.inFlight.set({}, 0);
    this.#d.metrics.held.set({}, 0);
    this.#d.metrics.yielding.set({}, 0);
    return { flushed: this.#flushWrites, abandoned };
  }

  #whenIdle(): Promise<void> {
    if (this.#pendingTotal === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #checkIdle(): void {
    if (this.#pendingTotal !== 0 || this.#inFlight !== 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  #pend(s: Series): void {
    const slot = slotOf(s);
    if (s.slot === slot) return;
    if (s.slot >= 0) this.#pending[s.slot].delete(s);
    else {
      this.#pendingTotal++;
      this.#pendingByNamespace.set(s.namespace, (this.#pendingByNamespace.get(s.namespace) ?? 0) + 1);
    }
    this.#pending[slot].add(s);
    s.slot = slot;
    s.pending = true;
    this.#d.metrics.queueDepth.set({}, this.#pendingTotal);
  }

  #unpend(s: Series): void {
    if (s.readySlot >= 0) {
      this.#ready[s.readySlot].delete(s);
      s.readySlot = -1;
    } else if (s.readySlot === HELD) {
      this.#held.delete(s);
      s.readySlot = -1;
    }
    if (s.timer !== undefined) {
      this.#d.clock.clearTimeout(s.timer);
      s.timer = undefined;
    }
    if (s.overflow && !s.inFlight && this.#overflow.get(s.key) === s) this.#overflow.delete(s.key);
    if (s.slot < 0) return;
    this.#pending[s.slot].delete(s);
    const left = (this.#pendingByNamespace.get(s.namespace) ?? 1) - 1;
    if (left > 0) this.#pendingByNamespace.set(s.namespace, left);
    else this.#pendingByNamespace.delete(s.namespace);
    s.slot = -1;
    s.pending = false;
    this.#pendingTotal--;
    this.#d.metrics.queueDepth.set({}, this.#pendingTotal);
    this.#checkIdle();
  }

  #makeReady(s: Series): void {
    const slot = slotOf(s);
    this.#ready[slot].add(s);
    s.readySlot = slot;
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      // A microtask, not a timer: the first occurrence goes out right after the caller's code.
      queueMicrotask(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
  }

  #bucket(s: Series, now: number): TokenBucket {
    let b = this.#buckets.get(s.budgetKey);
    if (!b) {
      b = new TokenBucket(this.#d.settings.objectBudget, now);
      this.#buckets.set(s.budgetKey, b);
      // Bounded: forgetting the oldest bucket only ever makes the budget more generous.
      if (this.#buckets.size > this.#d.settings.maxSeries * 2) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
    }
    return b;
  }

  /** The owner's busy signal, or its last "busy" within {@link BUSY_GRACE_MS}; a throwing signal counts as not busy. */
  #ownerBusy(now: number): boolean {
    let busy = false;
    try {
      busy = this.#d.busy?.() === true;
    } catch { /* not busy */ }
    if (busy) this.#lastBusyAt = now;
    return now - this.#lastBusyAt < BUSY_GRACE_MS;
  }

  #pump(): void {
    if (this.#stopped) return;
    const now = this.#d.clock.now();
    const pausedUntil = this.#limiter.pausedUntil;
    if (now < pausedUntil) {
      // The API server asked for a pause (Retry-After): nothing is sent until it has passed.
      this.#pauseTimer ??= this.#d.clock.setTimeout(() => {
        this.#pauseTimer = undefined;
        this.#pump();
      }, pausedUntil - now);
      return;
    }
    // At shutdown the owner is stopping: its busy signal no longer matters.
    const busy = !this.#flushing && this.#ownerBusy(now);
    const limit = this.#limiter.allowed(busy);
    if (this.#held.size > 0) this.#release(busy, now);
    let yielding = false;
    outer: for (let slot = 0; slot < 4; slot++) {
      const ready = this.#ready[slot];
      for (let s = ready.peek(); s; s = ready.peek()) {
        if (this.#inFlight >= limit) {
          yielding = busy && this.#inFlight < this.#limiter.limit;
          break outer;
        }
        if (busy && this.#holdable(s, now)) {
          // The owner's writes wait and this namespace has a burst of events: they wait too, up to
          // busyHoldMs after their emission, so the burst's events mostly go out after its reconciles.
          ready.delete(s);
          s.readySlot = HELD;
          this.#held.add(s);
          yielding = true;
          continue;
        }
        if (!this.#flushing) {
          const bucket = this.#bucket(s, now);
          const wait = bucket.waitMs(now);
          if (wait > 0) {
            // This object's budget is spent: its counts keep growing in memory until a token comes.
            ready.delete(s);
            s.readySlot = -1;
            s.dueAt = now + wait;
            s.timer = this.#d.clock.setTimeout(() => {
              s.timer = undefined;
              if (!this.#stopped && s.pending && !s.inFlight) this.#makeReady(s);
            }, wait);
            continue;
          }
          bucket.take(now);
        }
        ready.shift();
        s.readySlot = -1;
        const ticket = this.#limiter.begin();
        this.#inFlight++;
        this.#d.metrics.inFlight.set({}, this.#inFlight);
        s.inFlight = true;
        void this.#write(s, ticket)
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
    }
    this.#d.metrics.yielding.set({}, yielding ? 1 : 0);
    this.#d.metrics.held.set({}, this.#held.size);
    if (this.#held.size > 0) this.#armHoldTimer(now);
  }

  /** Whether `s` waits for the owner: its namespace has a burst waiting and it is younger than the hold. */
  #holdable(s: Series, now: number): boolean {
    const hold = this.#d.busyHoldMs;
    return hold > 0 && now - s.pendingSince < hold &&
      (this.#pendingByNamespace.get(s.namespace) ?? 0) > HOLD_BACKLOG;
  }

  /** Puts held series back in line: all of them once the owner is idle, else those whose hold has passed. */
  #release(busy: boolean, now: number): void {
    for (const s of this.#held) {
      // Held series are roughly in emission order: the first one still young ends the scan.
      if (busy && now - s.pendingSince < this.#d.busyHoldMs) break;
      this.#held.delete(s);
      const slot = slotOf(s);
      this.#ready[slot].add(s);
      s.readySlot = slot;
    }
  }

  /** Re-runs the pump when the oldest held series is due, and meanwhile polls the owner's busy signal. */
  #armHoldTimer(now: number): void {
    if (this.#holdTimer !== undefined) return;
    let due = Infinity;
    for (const s of this.#held) {
      due = s.pendingSince + this.#d.busyHoldMs;
      break;
    }
    this.#holdTimer = this.#d.clock.setTimeout(() => {
      this.#holdTimer = undefined;
      this.#pump();
    }, Math.max(0, Math.min(due - now, HOLD_POLL_MS)));
  }

  async #write(s: Series, ticket: WriteTicket): Promise<void> {
    for (let hop = 0; hop < 2; hop++) {
      const creating = !s.created;
      const sentCount = s.count;
      const sentMessage = s.message;
      s.sendingCount = sentCount;
      s.lastWriteAt = this.#d.clock.now();
      if (hop > 0) ticket = this.#limiter.begin();
      try {
        if (creating) {
          const body = createBody(s, this.#d.reporter);
          const problems = validateEventBody(body);
          if (problems.length > 0) {
            // Normalization should make this impossible; never send what the server would refuse.
            log.error("not sending an invalid Event for {object}: {problems}", {
              object: describeRef(s.ref),
              problems: problems.join("; "),
            });
            this.#dropSeries(s, "invalid");
            return;
          }
          await this.#d.client.create(this.#d.eventType, body, {
            namespace: s.namespace,
            signal: this.#abort.signal,
          });
          s.created = true;
        } else {
          await this.#d.client.patch(this.#d.eventType, s.name, updatePatch(s), {
            namespace: s.namespace,
            type: "merge",
            signal: this.#abort.signal,
          });
        }
        this.#d.metrics.written.inc({ verb: creating ? "create" : "patch" });
        if (this.#flushing) this.#flushWrites++;
        const now = this.#d.clock.now();
        this.#limiter.success(ticket, this.#inFlight);
        const baseline = this.#limiter.baselineMs;
        if (baseline !== undefined) this.#d.metrics.baseline.set({}, baseline / 1000);
        if (sentCount > s.serverCount) {
          this.#d.metrics.deliveryLag.observe({}, Math.max(0, now - s.pendingSince) / 1000);
          // Occurrences emitted while this write was in flight are the oldest unwritten ones now.
          if (s.count > sentCount) s.pendingSince = s.nextPendingSince ?? s.lastWriteAt;
        }
        s.nextPendingSince = undefined;
        s.serverCount = sentCount;
        s.serverMessage = sentMessage;
        s.attempt = 0;
        s.failingSince = undefined;
        s.unansweredCreate = false;
        log.debug("Wrote Kubernetes event {verb} {namespace}/{name} count={count}", {
          verb: creating ? "create" : "patch",
          namespace: s.namespace,
          name: s.name,
          count: sentCount,
        });
        return;
      } catch (err) {
        if (this.#abort.signal.aborted) return; // abandoned by close(); counted there
        if (err instanceof ApiError) this.#d.metrics.apiErrors.inc({ code: String(err.code) });
        s.nextPendingSince = undefined;
        if (
          err instanceof TooManyRequestsError || err instanceof ServerError || err instanceof ConnectionError
        ) {
          // The API server is overloaded (or unreachable): fewer writes at once, and a pause if it asked.
          this.#limiter.overload(
            ticket,
            err instanceof TooManyRequestsError ? "throttled" : "server_error",
            (err.retryAfterSeconds ?? 0) * 1000,
          );
        }
        const action = classifyFailure(err, creating, s.unansweredCreate);
        if (action.kind === "recreate" && hop === 0) {
          // The Event expired (the one-hour TTL) or was deleted: re-create it with the whole count.
          log.debug("Event {namespace}/{name} is gone; re-creating it", {
            namespace: s.namespace,
            name: s.name,
          });
          s.created = false;
          s.serverCount = 0;
          s.name = this.#d.newName(s);
          continue;
        }
        this.#failed(s, err, creating, action);
        return;
      }
    }
  }

  #failed(s: Series, err: unknown, creating: boolean, action: FailureAction): void {
    applyFailure(s, err, creating, action, {
      now: this.#d.clock.now(),
      settings: this.#d.settings,
      random: this.#d.random,
      newName: this.#d.newName,
      drop: (series, reason) => this.#dropSeries(series, reason),
      firstInNamespace: (key) => {
        if (this.#logged.size > 10_000) this.#logged.clear();
        const first = !this.#logged.has(key);
        this.#logged.add(key);
        return first;
      },
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
    s.count = s.serverCount;
    s.message = s.serverMessage;
    s.attempt = 0;
    s.failingSince = undefined;
    if (!s.created) {
      s.evicted = true;
      this.#d.onForget(s);
    }
    this.#unpend(s);
  }
}

/** 0 Warning create, 1 Normal create, 2 Warning update, 3 Normal update. */
function slotOf(s: Series): number {
  return (s.created ? 2 : 0) + (s.type === "Warning" ? 0 : 1);
}
