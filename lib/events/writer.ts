/**
 * The background half of the recorder: a bounded priority queue of series that need a write,
 * per-(object, reason) and global token buckets, a few concurrent writers, per-series retry
 * backoff (so one failing namespace never blocks another), and the shutdown flush. Within a
 * priority, namespaces take turns (round-robin): one tenant's flood never delays another's events.
 *
 * Priorities (sending order and, reversed, dropping order when the queue is full): Warning
 * creates, Normal creates, Warning count updates, Normal count updates.
 */
import type { KubeClient } from "../kube/client.ts";
import { ApiError } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import { FairQueue } from "../collections/fair-queue.ts";
import { TokenBucket } from "./budget.ts";
import { applyFailure, classifyFailure, type FailureAction } from "./failures.ts";
import type { DropReason, EventMetrics } from "./metrics.ts";
import { describeRef } from "./reference.ts";
import { createBody, needsWrite, type Reporter, type Series, updatePatch } from "./series.ts";
import type { Clock, CloseResult } from "./types.ts";
import { validateEventBody } from "./validate.ts";
import type { RecorderSettings } from "./recorder.ts";

const log = logger("events");

/** Drop order when the queue is full: Normal updates first, Warning creates last. */
const DROP_ORDER = [3, 1, 2, 0];
/** During the shutdown flush a retry waits at most this long. */
const FLUSH_RETRY_CAP_MS = 250;

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
}

/** Writes series to the API server. */
export class Writer {
  readonly #d: WriterDeps;
  readonly #pending: Set<Series>[] = [new Set(), new Set(), new Set(), new Set()];
  /** Series due for a write, per slot; namespaces take turns in each (round-robin), FIFO inside one. */
  readonly #ready: FairQueue<Series>[] = [0, 1, 2, 3].map(() => new FairQueue<Series>((s) => s.namespace));
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #global: TokenBucket;
  readonly #abort = new AbortController();
  readonly #logged = new Set<string>();
  #pendingTotal = 0;
  #inFlight = 0;
  #globalTimer?: unknown;
  #pumpScheduled = false;
  #flushing = false;
  #stopped = false;
  #flushWrites = 0;
  #idle: (() => void)[] = [];

  constructor(deps: WriterDeps) {
    this.#d = deps;
    this.#global = new TokenBucket(deps.settings.globalBudget, deps.clock.now());
  }

  /** Series waiting for a write. */
  get pendingCount(): number {
    return this.#pendingTotal;
  }

  /**
   * Makes room for a new series when the queue is full, by dropping a pending series of lower
   * priority; false when the new series itself must be dropped.
   */
  admit(s: Series): boolean {
    if (this.#pendingTotal < this.#d.settings.maxQueue) return true;
    const mine = DROP_ORDER.indexOf(slotOf(s));
    for (const slot of DROP_ORDER.slice(0, mine)) {
      for (const victim of this.#pending[slot]) {
        if (victim.inFlight) continue;
        this.#dropSeries(victim, "queue_full");
        return true;
      }
    }
    return false;
  }

  /** Queues a write of `s` if the server lags it, respecting the update interval and retry backoff. */
  schedule(s: Series): void {
    if (this.#stopped) return;
    if (!needsWrite(s)) {
      if (!s.inFlight) this.#unpend(s);
      return;
    }
    this.#pend(s);
    if (s.inFlight || s.readySlot >= 0) return;
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
    if (this.#globalTimer !== undefined) this.#d.clock.clearTimeout(this.#globalTimer);
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
    else this.#pendingTotal++;
    this.#pending[slot].add(s);
    s.slot = slot;
    s.pending = true;
    this.#d.metrics.queueDepth.set({}, this.#pendingTotal);
  }

  #unpend(s: Series): void {
    if (s.readySlot >= 0) {
      this.#ready[s.readySlot].delete(s);
      s.readySlot = -1;
    }
    if (s.timer !== undefined) {
      this.#d.clock.clearTimeout(s.timer);
      s.timer = undefined;
    }
    if (s.slot < 0) return;
    this.#pending[s.slot].delete(s);
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

  #pump(): void {
    if (this.#stopped) return;
    const now = this.#d.clock.now();
    for (let slot = 0; slot < 4; slot++) {
      const ready = this.#ready[slot];
      for (let s = ready.peek(); s; s = ready.peek()) {
        if (this.#inFlight >= this.#d.settings.concurrency) return;
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
          const globalWait = this.#global.waitMs(now);
          if (globalWait > 0) {
            this.#globalTimer ??= this.#d.clock.setTimeout(() => {
              this.#globalTimer = undefined;
              this.#pump();
            }, globalWait);
            return;
          }
          bucket.take(now);
          this.#global.take(now);
        }
        ready.shift();
        s.readySlot = -1;
        this.#inFlight++;
        s.inFlight = true;
        void this.#write(s)
          .catch((err) => this.#internalError(s, err))
          .finally(() => {
            s.inFlight = false;
            this.#inFlight--;
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
  }

  async #write(s: Series): Promise<void> {
    for (let hop = 0; hop < 2; hop++) {
      const creating = !s.created;
      const sentCount = s.count;
      const sentMessage = s.message;
      s.lastWriteAt = this.#d.clock.now();
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
