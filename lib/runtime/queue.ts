/**
 * The work queue, with client-go's semantics (`util/workqueue/queue.go`, `delaying_queue.go`,
 * `rate_limiting_queue.go`): keys are deduplicated, a key is never handed to two workers at once,
 * a key re-added while it is processed runs exactly once more after `done`, delayed adds keep the
 * earliest deadline, and per-key backoff comes from a {@link RateLimiter}. One difference, taken
 * from controller-runtime's priority queue: a plain `add` of a key that waits on a delay makes it
 * ready at once and drops the delay, so a change is never followed by a redundant timed run.
 * Fairness, from the API server's priority and fairness: within a priority level, namespaces take
 * turns (round-robin), FIFO inside each.
 */
import { exponentialBuckets, type Registry } from "../observe/metrics.ts";
import { FairQueue } from "../collections/fair-queue.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { defaultControllerRateLimiter, type RateLimiter } from "./ratelimit.ts";

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** The queue's name: the `name` label of the `workqueue_*` metrics. */
  name: string;
  /** The `controller` label of the metrics (default: the name). */
  controller?: string;
  /** Per-key backoff of {@link WorkQueue.addRateLimited} (default: exponential 5 ms to 1000 s). */
  rateLimiter?: RateLimiter;
  /** Where the `workqueue_*` metrics go; none when omitted. */
  registry?: Registry;
  clock?: Clock;
  /**
   * The group a key belongs to; groups take turns within a priority level (round-robin), so one
   * namespace's 2,000 new objects do not delay another namespace's next key (default: the
   * namespace of a `namespace/name` key, {@link namespaceOfKey}).
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

const QUEUE_BUCKETS = exponentialBuckets(1e-8, 10, 12);

function queueMetrics(registry: Registry) {
  const labels = ["name", "controller"];
  return {
    depth: registry.gauge("workqueue_depth", "Current depth of workqueue", labels),
    adds: registry.counter("workqueue_adds_total", "Total number of adds handled by workqueue", labels),
    latency: registry.histogram(
      "workqueue_queue_duration_seconds",
      "How long in seconds an item stays in workqueue before being requested",
      labels,
      QUEUE_BUCKETS,
    ),
    work: registry.histogram(
      "workqueue_work_duration_seconds",
      "How long in seconds processing an item from workqueue takes.",
      labels,
      QUEUE_BUCKETS,
    ),
    unfinished: registry.gauge(
      "workqueue_unfinished_work_seconds",
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate " +
        "at which this increases.",
      labels,
    ),
    longest: registry.gauge(
      "workqueue_longest_running_processor_seconds",
      "How many seconds has the longest running processor for workqueue been running.",
      labels,
    ),
    retries: registry.counter(
      "workqueue_retries_total",
      "Total number of retries handled by workqueue",
      labels,
    ),
  };
}

/** Priority of keys from an initial list or a resync, served after real changes (controller-runtime's `LowPriority`). */
export const LOW_PRIORITY = -100;

/** Options of one add. */
export interface AddOptions {
  /**
   * Higher runs first; FIFO within a level (default 0). A key added again with a higher
   * priority moves up (to the back of that level); a lower one never moves it down.
   */
  priority?: number;
}

/**
 * The ready keys: per priority level a {@link FairQueue} whose groups are the keys' namespaces,
 * so namespaces take turns inside a level and each one's keys stay FIFO.
 */
class Levels {
  #levels = new Map<number, FairQueue<string>>();
  #size = 0;
  constructor(readonly groupOf: (key: string) => string) {}
  get length(): number {
    return this.#size;
  }
  push(key: string, priority: number): void {
    let l = this.#levels.get(priority);
    if (!l) this.#levels.set(priority, l = new FairQueue(this.groupOf));
    if (l.add(key)) this.#size++;
  }
  shift(): string | undefined {
    if (this.#size === 0) return undefined;
    let top: FairQueue<string> | undefined, topPriority = -Infinity;
    for (const [p, l] of this.#levels) {
      if (l.size > 0 && p > topPriority) [top, topPriority] = [l, p];
    }
    this.#size--;
    return top!.shift();
  }
  remove(key: string, priority: number): boolean {
    if (!this.#levels.get(priority)?.delete(key)) return false;
    this.#size--;
    return true;
  }
  keys(): string[] {
    return [...this.#levels.values()].flatMap((l) => [...l]);
  }
  clear(): void {
    this.#levels.clear();
    this.#size = 0;
  }
}

/** The namespace of a `namespace/name` key ("" for a cluster-scoped `name`): the default fairness group. */
export function namespaceOfKey(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}

/** A deduplicating, delaying, rate-limited queue of string keys, with priority levels. */
export class WorkQueue {
  readonly name: string;
  readonly rateLimiter: RateLimiter;
  readonly clock: Clock;
  #queue: Levels;
  #priority = new Map<string, number>();
  #dirty = new Set<string>();
  #processing = new Map<string, number>();
  #waiting = new Map<string, { at: number; timer: TimerHandle }>();
  #addedAt = new Map<string, number>();
  #getters: ((key: string | undefined) => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;
  #discard = false;
  #labels: { name: string; controller: string };
  #m?: ReturnType<typeof queueMetrics>;
  #unregister?: () => void;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter();
    this.#queue = new Levels(options.fairnessGroup ?? namespaceOfKey);
    this.#labels = { name: options.name, controller: options.controller ?? options.name };
    if (options.registry) {
      this.#m = queueMetrics(options.registry);
      this.#m.depth.set(this.#labels, 0);
      this.#m.adds.inc(this.#labels, 0);
      this.#m.retries.inc(this.#labels, 0);
      this.#unregister = options.registry.addCollector(() => this.#collect());
    }
  }

  /** Queues `key` unless it is already waiting to run; a key being processed runs once more after `done`. */
  add(key: string, options: AddOptions = {}): void {
    if (this.#shuttingDown) return;
    const priority = options.priority ?? 0;
    const w = this.#waiting.get(key);
    if (w) {
      this.clock.clearTimeout(w.timer);
      this.#waiting.delete(key);
    }
    if (this.#dirty.has(key)) {
      const current = this.#priority.get(key) ?? 0;
      if (priority > current) {
        this.#priority.set(key, priority);
        if (this.#queue.remove(key, current)) this.#queue.push(key, priority);
      }
      return;
    }
    this.#dirty.add(key);
    this.#priority.set(key, priority);
    this.#m?.adds.inc(this.#labels);
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, this.clock.now());
    this.#setDepth();
    if (this.#processing.has(key)) return;
    this.#queue.push(key, priority);
    this.#wake();
  }

  /**
   * Queues `key` after `delayMs` (at once when <= 0). If the key already waits, the earlier
   * deadline wins: a later call never postpones it.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    this.#m?.retries.inc(this.#labels);
    const at = this.clock.now() + delayMs;
    const w = this.#waiting.get(key);
    if (w && w.at <= at) return;
    if (w) this.clock.clearTimeout(w.timer);
    const timer = this.clock.setTimeout(() => {
      if (this.#waiting.get(key)?.timer !== timer) return;
      this.#waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.#waiting.set(key, { at, timer });
  }

  /** Queues `key` after the rate limiter's delay for it (one more failure counted). */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    const delay = this.rateLimiter.when(key);
    if (delay <= 0) this.#m?.retries.inc(this.#labels);
    this.addAfter(key, delay);
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
    if (this.#dirty.has(key) && !this.#discard) {
      this.#queue.push(key, this.#priority.get(key) ?? 0);
      this.#wake();
    }
    if (this.#processing.size === 0) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  /** Keys ready to be handed out (not counting those processing or waiting on a delay). */
  len(): number {
    return this.#queue.length;
  }

  /** Keys handed out and not yet done. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting on a delay. */
  get waiting(): number {
    return this.#waiting.size;
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
    for (const w of this.#waiting.values()) this.clock.clearTimeout(w.timer);
    this.#waiting.clear();
    if (options.discardQueued) {
      this.#discard = true;
      for (const k of this.#queue.keys()) this.#addedAt.delete(k);
      this.#queue.clear();
      this.#priority.clear();
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
        this.clock.clearTimeout(timer);
        resolve(true);
      };
      this.#drainWaiters.push(waiter);
      if (timeoutMs !== undefined && timeoutMs >= 0) {
        timer = this.clock.setTimeout(() => {
          this.#drainWaiters = this.#drainWaiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** Unregisters the metrics collector (the series stay). */
  dispose(): void {
    this.#unregister?.();
  }

  #take(): string | undefined {
    if (this.#discard) return undefined;
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    const now = this.clock.now();
    this.#processing.set(key, now);
    this.#dirty.delete(key);
    this.#priority.delete(key);
    const added = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (added !== undefined) this.#m?.latency.observe(this.#labels, (now - added) / 1000);
    this.#setDepth();
    return key;
  }

  #wake(): void {
    while (this.#getters.length && this.#queue.length && !this.#discard) this.#getters.shift()!(this.#take());
    if (this.#shuttingDown && (this.#queue.length === 0 || this.#discard)) {
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
