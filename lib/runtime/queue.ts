/**
 * The work queue, with client-go's semantics (`util/workqueue/queue.go`, `delaying_queue.go`,
 * `rate_limiting_queue.go`): keys are deduplicated, a key is never handed to two workers at once,
 * a key re-added while it is processed runs exactly once more after `done`, delayed adds keep the
 * earliest deadline, and per-key backoff comes from a {@link RateLimiter}. One difference, taken
 * from controller-runtime's priority queue: a plain `add` of a key that waits on a delay makes it
 * ready at once and drops the delay, so a change is never followed by a redundant timed run.
 * Ready keys are served by priority, then namespaces in turn, then arrival (ready-keys.ts);
 * delayed keys wait in a deadline heap on one timer (delayed-keys.ts). Every operation is O(log n).
 * The behaviour is specified in docs/behaviour/queue-and-controller.md.
 */
import type { Registry } from "../observe/metrics.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { DelayedKeys } from "./delayed-keys.ts";
import { namespaceOfKey } from "./keys.ts";
import { type QueueMetrics, queueMetrics } from "./queue-metrics.ts";
import { defaultControllerRateLimiter, type RateLimiter } from "./ratelimit.ts";
import { ReadyKeys } from "./ready-keys.ts";

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** The queue's name: the `name` label of the `workqueue_*` metrics. */
  name: string;
  /** The `controller` label of the metrics (default: the name). */
  controller?: string;
  /** Per-key backoff of a `rateLimited` add (default: exponential 5 ms to 1000 s). */
  rateLimiter?: RateLimiter;
  /** Where the `workqueue_*` metrics go; none when omitted. */
  registry?: Registry;
  /** The clock of delays and durations (default: the real clock). */
  clock?: Clock;
  /**
   * The group a key belongs to; groups take turns within a priority level, so one namespace's
   * 2,000 new objects do not delay another namespace's next key (default: the namespace of a
   * `namespace/name` key, {@link namespaceOfKey}).
   */
  fairnessGroup?: (key: string) => string;
}

/** Options of {@link WorkQueue.shutDown}. */
export interface ShutDownOptions {
  /**
   * Drop keys that are queued but not yet handed out (controller-runtime's priority-queue
   * behaviour, used for graceful shutdown: they are relisted after a restart). By default
   * `get` keeps returning queued keys until the queue is empty, as client-go does.
   */
  discardQueued?: boolean;
}

/** Priority of keys from an initial list or a resync, served after real changes (controller-runtime's `LowPriority`). */
export const LOW_PRIORITY: number = -100;

/** Options of {@link WorkQueue.add}. */
export interface AddOptions {
  /**
   * Higher runs first; within a level namespaces take turns and each one's keys are FIFO
   * (default 0). A key added again with a higher priority moves up (to the back of its
   * namespace's keys there); a lower one never moves it down.
   */
  priority?: number;
  /**
   * Queue the key after this many milliseconds instead of now. If it already waits, the earlier
   * deadline wins: a later add never postpones it. Counted in `workqueue_retries_total`.
   */
  afterMs?: number;
  /**
   * Queue the key after the rate limiter's delay for it, counting one more failure (the later of
   * this and `afterMs` applies). Counted in `workqueue_retries_total`.
   */
  rateLimited?: boolean;
}

/** A key queued or re-added while processing. */
interface Pending {
  /** The priority it will run at (only ever raised). */
  priority: number;
  /** When it was added (0 without metrics): the start of its queue duration. */
  addedAt: number;
}

/** A deduplicating, delaying, rate-limited queue of string keys, with priority levels. */
export class WorkQueue {
  /** The queue's name (the `name` label of its metrics). */
  readonly name: string;
  /** The per-key backoff of `rateLimited` adds. */
  readonly rateLimiter: RateLimiter;
  /** The clock of delays and durations. */
  readonly clock: Clock;
  #ready: ReadyKeys;
  #delayed: DelayedKeys;
  /** Keys queued or re-added while processing: the priority they will run at, since when. */
  #dirty = new Map<string, Pending>();
  /** Keys handed out and not yet done, with the time they were handed out (0 without metrics). */
  #processing = new Map<string, number>();
  #getters: ((key: string | undefined) => void)[] = [];
  #drainWaiters = new Set<() => void>();
  #shuttingDown = false;
  #discard = false;
  #labels: { name: string; controller: string };
  #m?: QueueMetrics;
  #unregister?: () => void;

  /** A queue named `options.name`, with no keys. */
  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter();
    this.#ready = new ReadyKeys(options.fairnessGroup ?? namespaceOfKey);
    this.#delayed = new DelayedKeys(this.clock, (key, priority) => this.#addNow(key, priority));
    this.#labels = { name: options.name, controller: options.controller ?? options.name };
    if (options.registry) {
      this.#m = queueMetrics(options.registry);
      this.#m.depth.set(this.#labels, 0);
      this.#m.adds.inc(this.#labels, 0);
      this.#m.retries.inc(this.#labels, 0);
      this.#unregister = options.registry.addCollector(() => this.#collect());
    }
  }

  /**
   * Queues `key`: now, after `afterMs`, or after the rate limiter's delay (`rateLimited`). A key
   * already queued is not queued twice; a key being processed runs once more after `done`; a
   * plain add of a key waiting on a delay makes it ready now. A no-op after shutdown.
   */
  add(key: string, options: AddOptions = {}): void {
    if (this.#shuttingDown) return;
    const priority = options.priority ?? 0;
    let delay = options.afterMs ?? 0;
    if (options.rateLimited) delay = Math.max(delay, this.rateLimiter.when(key));
    if (options.rateLimited || delay > 0) this.#m?.retries.inc(this.#labels);
    if (delay > 0) this.#delayed.schedule(key, this.clock.now() + delay, priority);
    else {
      this.#delayed.cancel(key);
      this.#addNow(key, priority);
    }
  }

  /** Resets the key's backoff (after a success); the queue itself is untouched. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** Failures counted for `key` since the last {@link WorkQueue.forget}. */
  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process; waits while the queue is empty. Resolves `undefined` once the queue
   * is shut down and has nothing more to hand out. Every key received must be passed to
   * {@link WorkQueue.done}.
   */
  get(): Promise<string | undefined> {
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks `key` finished; if it was added meanwhile, it is queued again (once). */
  done(key: string): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#m?.work.observe(this.#labels, (this.clock.now() - started) / 1000);
    const pending = this.#dirty.get(key);
    if (pending !== undefined && !this.#discard) {
      this.#ready.push(key, pending.priority);
      this.#wake();
    }
    // Copied before the calls, as each waiter deletes itself; the check spares a copy per key.
    if (this.#processing.size === 0 && this.#drainWaiters.size > 0) {
      for (const w of [...this.#drainWaiters]) w();
    }
  }

  /** Keys ready to be handed out (not counting those processing or waiting on a delay). */
  len(): number {
    return this.#ready.size;
  }

  /** Keys handed out and not yet done. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting on a delay. */
  get waiting(): number {
    return this.#delayed.size;
  }

  /**
   * Comparisons made by the queue's heaps since it was created: its cost, which grows as
   * n log n in the keys handled (for tests and benchmarks; no timing needed).
   */
  get heapComparisons(): number {
    return this.#ready.comparisons + this.#delayed.comparisons;
  }

  /** Whether {@link WorkQueue.shutDown} was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops intake: later adds are silent no-ops and delayed keys are dropped. Idempotent; a later
   * call may still set `discardQueued`.
   */
  shutDown(options: ShutDownOptions = {}): void {
    this.#shuttingDown = true;
    this.#delayed.clear();
    if (options.discardQueued) {
      this.#discard = true;
      this.#ready.clear();
      this.#dirty.clear();
      this.#setDepth();
    }
    this.#wake();
  }

  /**
   * {@link WorkQueue.shutDown}, then waits until no key is processing, or `timeoutMs` passed.
   * Resolves true when drained.
   */
  async shutDownWithDrain(options: ShutDownOptions & { timeoutMs?: number } = {}): Promise<boolean> {
    this.shutDown(options);
    return await this.waitIdle(options.timeoutMs);
  }

  /** Resolves true once nothing is processing, or false after `timeoutMs`. */
  waitIdle(timeoutMs?: number): Promise<boolean> {
    if (this.#processing.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const waiter = () => {
        this.#drainWaiters.delete(waiter);
        this.clock.clearTimeout(timer);
        resolve(true);
      };
      this.#drainWaiters.add(waiter);
      if (timeoutMs !== undefined && timeoutMs >= 0) {
        timer = this.clock.setTimeout(() => {
          this.#drainWaiters.delete(waiter);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** Unregisters the metrics collector (the series stay). */
  dispose(): void {
    this.#unregister?.();
  }

  /** Queues `key` now at `priority` (dedup, one run at a time, priority only ever raised). */
  #addNow(key: string, priority: number): void {
    const pending = this.#dirty.get(key);
    if (pending !== undefined) {
      if (priority > pending.priority) {
        pending.priority = priority;
        this.#ready.raise(key, priority);
      }
      return;
    }
    // The time is only read for the queue-duration metric.
    this.#dirty.set(key, { priority, addedAt: this.#m ? this.clock.now() : 0 });
    this.#m?.adds.inc(this.#labels);
    this.#setDepth();
    if (this.#processing.has(key)) return;
    this.#ready.push(key, priority);
    this.#wake();
  }

  #take(): string | undefined {
    if (this.#discard) return undefined;
    const key = this.#ready.shift();
    if (key === undefined) return undefined;
    // The time is only read for the metrics (durations, the longest running key).
    const now = this.#m ? this.clock.now() : 0;
    this.#processing.set(key, now);
    const pending = this.#dirty.get(key);
    this.#dirty.delete(key);
    if (pending !== undefined) this.#m?.latency.observe(this.#labels, (now - pending.addedAt) / 1000);
    this.#setDepth();
    return key;
  }

  #wake(): void {
    while (this.#getters.length && this.#ready.size && !this.#discard) this.#getters.shift()!(this.#take());
    if (this.#shuttingDown && (this.#ready.size === 0 || this.#discard)) {
      for (const g of this.#getters.splice(0)) g(undefined);
    }
  }

  #setDepth(): void {
    this.#m?.depth.set(this.#labels, this.#dirty.size);
  }

  #collect(): void {
    if (!this.#m) return;
    const now = this.clock.now();
    let total = 0, longest = 0;
    for (const started of this.#processing.values()) {
      const s = (now - started) / 1000;
      total += s;
      longest = Math.max(longest, s);
    }
    this.#m.unfinished.set(this.#labels, total);
    this.#m.longest.set(this.#labels, longest);
  }
}
