/**
 * The controller loop: source events become keys in a {@link WorkQueue}, and workers run the
 * reconciler for each key with controller-runtime's outcome table (success forgets the backoff,
 * `requeueAfterMs` schedules a plain timed run, an error backs off per key, a
 * {@link TerminalError} is not retried, and a thrown bug never kills a worker). The behaviour is
 * specified in docs/behaviour/queue-and-controller.md.
 */
import { setImmediate } from "node:timers";
import { ApiError, ConflictError } from "../kube/errors.ts";
import type { KubeObject } from "../kube/client.ts";
import { type Logger, logger, shortId } from "../observe/log.ts";
import { defaultRegistry, type Registry } from "../observe/metrics.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { ApiRecovery } from "./api-recovery.ts";
import { type ControllerMetrics, controllerMetrics } from "./controller-metrics.ts";
import { enqueueEvents, type Watch } from "./event-keys.ts";
import { collectIfGrown } from "./gc.ts";
import { objectKey, ownerKey, splitKey } from "./keys.ts";
import { WorkQueue } from "./queue.ts";
import type { RateLimiter } from "./ratelimit.ts";
import { isPanic, isTerminalError, type Reconciler } from "./reconciler.ts";
import { type EventSource, waitForSources } from "./source.ts";

/** Reconciles between two looks at whether a garbage collection is due (and whenever the queue is empty). */
const GC_CHECK_EVERY = 100;

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** The controller's name: the `controller` label of its metrics and logs. */
  name: string;
  /** Reconciles one key. */
  reconcile: Reconciler;
  /** Parallel workers (default 1). One key never runs twice at once, whatever the number. */
  concurrency?: number;
  /** Per-key backoff after errors (default: exponential 5 ms to 1000 s). */
  rateLimiter?: RateLimiter;
  /** Where metrics go (default: the process registry). */
  registry?: Registry;
  /** The clock of delays, timeouts and durations (default: the real clock). */
  clock?: Clock;
  /** How long workers wait for the sources to sync before `start` fails (default 2 min). */
  cacheSyncTimeoutMs?: number;
  /** Aborts a reconcile's signal after this long and counts a timeout (default: none). */
  reconcileTimeoutMs?: number;
}

/** The owner kind of {@link Controller.owns}: group + kind match, the version is ignored. */
export interface OwnerKind {
  /** The owner's apiVersion; only its group is compared. */
  apiVersion: string;
  /** The owner's kind. */
  kind: string;
  /** False for cluster-scoped owners (their keys have no namespace); default: the primary source's scope, else true. */
  namespaced?: boolean;
}

/** A reconcile loop over a work queue fed by event sources (informers). */
export class Controller {
  /** The controller's name (the `controller` label of its metrics and logs). */
  readonly name: string;
  /** The queue of keys to reconcile. */
  readonly queue: WorkQueue;
  /** Parallel workers. */
  readonly concurrency: number;
  #reconcile: Reconciler;
  #clock: Clock;
  #m: ControllerMetrics;
  #log: Logger;
  #primaries: EventSource<KubeObject>[] = [];
  #watches: Watch[] = [];
  #unsubscribe: (() => void)[] = [];
  #hard = new AbortController();
  /** Aborted by any stop, graceful or not: ends the wait for the sources' sync. */
  #stopping = new AbortController();
  #started = false;
  /** Reconciles since the last look at the process's growth (gc.ts). */
  #sinceCheck = 0;
  #cacheSyncTimeoutMs: number;
  #reconcileTimeoutMs?: number;
  #recovery: ApiRecovery;

  /** A controller with no sources yet: add them with `for`, `owns` and `watches`, then `start`. */
  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#reconcile = options.reconcile;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.#clock = options.clock ?? realClock;
    const registry = options.registry ?? defaultRegistry;
    this.queue = new WorkQueue({
      name: this.name,
      rateLimiter: options.rateLimiter,
      registry,
      clock: this.#clock,
    });
    this.#m = controllerMetrics(registry, this.name, this.concurrency);
    this.#log = logger("runtime", "controller").with({ controller: this.name });
    this.#cacheSyncTimeoutMs = options.cacheSyncTimeoutMs ?? 120_000;
    this.#reconcileTimeoutMs = options.reconcileTimeoutMs;
    this.#recovery = new ApiRecovery(this.#clock, this.queue);
  }

  /**
   * The primary kind: every add, update (resync included) and delete enqueues the object's own
   * key. Called once per source of that kind (several when each watches one namespace).
   */
  for<T extends KubeObject>(source: EventSource<T>): this {
    const first = this.#primaries[0];
    if (first && first.resourceType.kind !== source.resourceType.kind) {
      throw new Error(
        `controller ${this.name}: for() was already called with ${first.resourceType.kind}, not ${source.resourceType.kind}`,
      );
    }
    this.#primaries.push(source);
    this.#watches.push({ source, keys: (o) => [objectKey(o)] });
    return this;
  }

  /**
   * An owned kind: events of a child enqueue its controller owner (the owner reference with
   * `controller: true` whose group and kind match `owner`). An update enqueues the owners of both
   * the old and the new object, so removing the reference still wakes the former owner.
   */
  owns<T extends KubeObject>(source: EventSource<T>, owner: OwnerKind): this {
    const primary = this.#primaries[0];
    const namespaced = owner.namespaced ??
      (primary?.resourceType.kind === owner.kind ? primary.resourceType.namespaced : true);
    const spec = { ...owner, namespaced };
    this.#watches.push({ source, keys: (o) => [ownerKey(o, spec)] });
    return this;
  }

  /** Any other kind: `map` turns each event's object into the keys to enqueue. */
  watches<T extends KubeObject>(source: EventSource<T>, map: (obj: T) => string[]): this {
    // The source only ever hands `map` its own objects (a Watch's `keys` is a method, so bivariant).
    this.#watches.push({ source, keys: map });
    return this;
  }

  /**
   * The event sources (informers) this controller reads, each once. The controller does not start
   * them: their owner, the manager, does.
   */
  get informers(): EventSource<KubeObject>[] {
    return [...new Set(this.#watches.map((w) => w.source))];
  }

  /** Queues a key now, or after `afterMs` (earliest deadline wins). */
  enqueue(key: string, afterMs?: number): void {
    this.queue.add(key, { afterMs });
  }

  /** Queues the key of every object of the primary sources (e.g. after a config change). */
  enqueueAll(): void {
    for (const obj of this.#primaries.flatMap((p) => p.list())) this.queue.add(objectKey(obj));
  }

  /** Whether {@link Controller.start} was called. */
  get started(): boolean {
    return this.#started;
  }

  /**
   * Subscribes to the sources, waits for them to sync (failing after the cache-sync timeout; a
   * stop ends the wait), then runs the workers. Resolves once the queue is shut down and every
   * worker has returned.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name}: already started`);
    this.#started = true;
    const onAbort = () => this.abort(signal?.reason);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (const w of this.#watches) this.#unsubscribe.push(enqueueEvents(w, this.queue));
      await waitForSources(this.informers, {
        controller: this.name,
        timeoutMs: this.#cacheSyncTimeoutMs,
        clock: this.#clock,
        signal: this.#stopping.signal,
      });
      if (this.queue.shuttingDown) return;
      this.#log.info("starting {workers} workers of controller {controller}", { workers: this.concurrency });
      const workers = Array.from({ length: this.concurrency }, () => this.#worker());
      await Promise.all(workers);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#unsubscribeAll();
    }
  }

  /**
   * Graceful stop: no new keys start, in-flight reconciles finish. After `timeoutMs` their
   * signals are aborted. Resolves true when everything finished in time.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<boolean> {
    this.#stopping.abort();
    this.#recovery.stop();
    const drained = await this.queue.shutDownWithDrain({ discardQueued: true, timeoutMs: options.timeoutMs });
    if (!drained) {
      this.#log.error(
        "reconciles of controller {controller} did not finish within {timeoutMs} ms; aborting them",
        { timeoutMs: options.timeoutMs },
      );
      this.#hard.abort(new Error(`controller ${this.name}: shutdown timed out`));
    }
    this.#unsubscribeAll();
    return drained;
  }

  /** Immediate stop (leadership lost): intake stops and every in-flight reconcile's signal aborts. */
  abort(reason?: unknown): void {
    this.#stopping.abort();
    this.#recovery.stop();
    this.queue.shutDown({ discardQueued: true });
    if (!this.#hard.signal.aborted) this.#hard.abort(reason ?? new Error(`controller ${this.name}: stopped`));
    this.#unsubscribeAll();
  }

  #unsubscribeAll(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.#process(key);
      } finally {
        this.queue.done(key);
      }
      if (++this.#sinceCheck >= GC_CHECK_EVERY || this.queue.len() === 0) {
        this.#sinceCheck = 0;
        collectIfGrown();
      }
      // A reconcile served from the caches never waits on I/O; without this turn of the event
      // loop a first pass over 10,000 objects would hold it for seconds (probes unanswered,
      // the collector's timers late, so the heap grows).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Runs the reconciler for `key` and applies the outcome table; never throws. */
  async #process(key: string): Promise<void> {
    const reconcileId = shortId();
    const { namespace, name } = splitKey(key);
    const log = this.#log.with({ key, reconcileID: reconcileId });
    const labels = { controller: this.name };
    const started = this.#clock.now();
    let signal = this.#hard.signal;
    let timer: TimerHandle | undefined;
    let timedOut = false;
    if (this.#reconcileTimeoutMs) {
      const ac = new AbortController();
      signal = AbortSignal.any([this.#hard.signal, ac.signal]);
      timer = this.#clock.setTimeout(() => {
        timedOut = true;
        ac.abort(new Error(`reconcile of ${key} timed out after ${this.#reconcileTimeoutMs} ms`));
      }, this.#reconcileTimeoutMs);
    }
    this.#m.active.inc(labels);
    try {
      const retries = this.queue.numRequeues(key);
      const result = await this.#reconcile({ key, namespace, name, signal, log, reconcileId, retries });
      this.#recovery.succeeded(key, log);
      if (result && "requeue" in result && result.requeue) {
        this.#m.total.inc({ ...labels, result: "requeue" });
        this.queue.add(key, { rateLimited: true }); // not forgotten: the key's backoff keeps growing
        log.debug("reconciled {key}; requeue at its backoff", {});
        return;
      }
      const after = result && "requeueAfterMs" in result ? result.requeueAfterMs : 0;
      this.queue.forget(key);
      if (after > 0) {
        this.#m.total.inc({ ...labels, result: "requeue_after" });
        this.queue.add(key, { afterMs: after });
        log.debug("reconciled {key}; requeue after {requeueAfterMs} ms", { requeueAfterMs: after });
      } else {
        this.#m.total.inc({ ...labels, result: "success" });
        log.debug("reconciled {key}");
      }
    } catch (err) {
      this.#failed(key, err, log, { timedOut, stopped: signal.aborted && !timedOut });
    } finally {
      this.#clock.clearTimeout(timer);
      this.#m.active.inc(labels, -1);
      this.#m.time.observe(labels, (this.#clock.now() - started) / 1000);
    }
  }

  /**
   * The error rows of the outcome table: count, log, and back off, except after a terminal error
   * or when the controller stopped the reconcile (a timed-out one is retried).
   */
  #failed(key: string, err: unknown, log: Logger, how: { timedOut: boolean; stopped: boolean }): void {
    const labels = { controller: this.name };
    this.#m.total.inc({ ...labels, result: "error" });
    this.#m.errors.inc(labels);
    if (how.timedOut) this.#m.timeouts.inc(labels);
    // The API's words at error level; the HTTP call that failed only at debug.
    const error = err instanceof ApiError ? err.detail : err instanceof Error ? err.message : String(err);
    if (err instanceof ApiError && err.request) {
      log.debug("failed request: {request}", { request: err.request });
    }
    if (isTerminalError(err)) {
      this.#m.terminal.inc(labels);
      this.queue.forget(key);
      log.error("reconcile of {key} failed with a terminal error; not retrying: {error}", { error });
      return;
    }
    if (isPanic(err)) {
      this.#m.panics.inc(labels);
      log.error("reconcile of {key} threw a bug; retrying with backoff: {error}", {
        error,
        stack: err instanceof Error ? err.stack : undefined,
      });
    } else if (err instanceof ConflictError) {
      // A stale cache read: normal under optimistic concurrency, not worth an error line.
      log.info("reconcile of {key} hit a conflict; retrying: {error}", { error });
    } else {
      log.error("reconcile of {key} failed; retrying with backoff: {error}", { error });
    }
    if (typeof (err as { requeueAfterMs?: unknown })?.requeueAfterMs === "number") {
      log.warning(
        "reconcile of {key} failed and asked for requeueAfterMs; the error backoff applies instead",
      );
    }
    if (!how.stopped) this.queue.add(key, { rateLimited: true });
    this.#recovery.failed(key, err);
  }
}
