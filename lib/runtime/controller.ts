/**
 * The controller loop: informer events become keys in a {@link WorkQueue}, and workers run the
 * reconciler for each key with controller-runtime's outcome table (success forgets the backoff,
 * `requeueAfterMs` schedules a plain timed run, an error backs off per key, a
 * {@link TerminalError} is not retried, and a thrown bug never kills a worker).
 */
import { setImmediate } from "node:timers";
import { ApiError, ConflictError, ForbiddenError, isRetryable, UnauthorizedError } from "../kube/errors.ts";
import type { KubeObject } from "../kube/client.ts";
import { type Logger, logger, shortId } from "../observe/log.ts";
import { DEFAULT_BUCKETS, defaultRegistry, type Registry } from "../observe/metrics.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { collectIfGrown } from "./gc.ts";
import type { Informer } from "./informer.ts";
import { objectKey, ownerKey, splitKey } from "./keys.ts";
import type { RateLimiter } from "./ratelimit.ts";
import { LOW_PRIORITY, WorkQueue } from "./queue.ts";

/** What a reconciler receives for one key. */
export interface ReconcileContext {
  /** The queue key: "namespace/name", or "name" for cluster-scoped objects. */
  key: string;
  namespace?: string;
  name: string;
  /**
   * Aborted when the work must stop at once: leadership was lost, or graceful shutdown ran out
   * of time. Pass it to every API call. A normal shutdown lets the reconcile finish.
   */
  signal: AbortSignal;
  /** A logger whose lines carry the controller name, the key and {@link ReconcileContext.reconcileId}. */
  log: Logger;
  /** A short random id tying this run's log lines together. */
  reconcileId: string;
  /** Failures of this key since its last success (0 on a first or post-success run). */
  retries: number;
}

/** Done (`undefined`), or run again after a delay (not rate-limited; the backoff is reset). */
export type ReconcileResult = void | { requeueAfterMs: number };

/** Reconciles one key. Throw to back off and retry; throw a {@link TerminalError} to give up on the key. */
export type Reconciler = (ctx: ReconcileContext) => Promise<ReconcileResult>;

/** An error that retrying will not fix (invalid spec, ...): the key is not requeued until it changes. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** Whether `err` is, or wraps (through `cause`), a {@link TerminalError}. */
export function isTerminalError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof TerminalError) return true;
  }
  return false;
}

/**
 * Whether a thrown value is a programming error rather than an operational failure: the JS
 * counterpart of a Go panic (TypeError, ReferenceError, RangeError, SyntaxError, EvalError, or a
 * thrown non-Error). Counted in `controller_runtime_reconcile_panics_total`.
 */
export function isPanic(err: unknown): boolean {
  return !(err instanceof Error) || err instanceof TypeError || err instanceof ReferenceError ||
    err instanceof RangeError || err instanceof SyntaxError || err instanceof EvalError;
}

/** The least time between two recovery sweeps (see {@link Controller}). */
export /** Reconciles between two looks at whether a garbage collection is due (and whenever the queue is empty). */
const GC_CHECK_EVERY = 100;

const RECOVERY_SWEEP_MS = 2_000;

/**
 * Errors that say something about the API server or the operator's access, not about the object:
 * no answer, 5xx, 429, 401, 403. Once they clear, every key that failed on them can succeed.
 */
function failedOnApi(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (isRetryable(e) || e instanceof ForbiddenError || e instanceof UnauthorizedError) return true;
  }
  return false;
}

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** The controller's name: the `controller` label of its metrics and logs. */
  name: string;
  reconcile: Reconciler;
  /** Parallel workers (default 1). One key never runs twice at once, whatever the number. */
  concurrency?: number;
  /** Per-key backoff after errors (default: exponential 5 ms to 1000 s). */
  rateLimiter?: RateLimiter;
  /** Where metrics go (default: the process registry). */
  registry?: Registry;
  clock?: Clock;
  /** How long workers wait for the informers to sync before `start` fails (default 2 min). */
  cacheSyncTimeoutMs?: number;
  /** Aborts a reconcile's signal after this long and counts a timeout (default: none). */
  reconcileTimeoutMs?: number;
}

/** The owner kind of {@link Controller.owns}: group + kind match, the version is ignored. */
export interface OwnerKind {
  apiVersion: string;
  kind: string;
  /** False for cluster-scoped owners (their keys have no namespace); default: the primary informer's scope, else true. */
  namespaced?: boolean;
}

interface Source {
  informer: Informer<KubeObject>;
  keys: (obj: KubeObject) => (string | undefined)[];
}

function controllerMetrics(registry: Registry) {
  const c = ["controller"];
  return {
    total: registry.counter(
      "controller_runtime_reconcile_total",
      "Total number of reconciliations per controller",
      [
        "controller",
        "result",
      ],
    ),
    errors: registry.counter(
      "controller_runtime_reconcile_errors_total",
      "Total number of reconciliation errors per controller",
      c,
    ),
    terminal: registry.counter(
      "controller_runtime_terminal_reconcile_errors_total",
      "Total number of terminal reconciliation errors per controller",
      c,
    ),
    panics: registry.counter(
      "controller_runtime_reconcile_panics_total",
      "Total number of reconciliation panics per controller",
      c,
    ),
    timeouts: registry.counter(
      "controller_runtime_reconcile_timeouts_total",
      "Total number of reconciliation timeouts per controller",
      c,
    ),
    time: registry.histogram(
      "controller_runtime_reconcile_time_seconds",
      "Length of time per reconciliation per controller",
      c,
      DEFAULT_BUCKETS,
    ),
    maxConcurrent: registry.gauge(
      "controller_runtime_max_concurrent_reconciles",
      "Maximum number of concurrent reconciles per controller",
      c,
    ),
    active: registry.gauge(
      "controller_runtime_active_workers",
      "Number of currently used workers per controller",
      c,
    ),
  };
}

/** A reconcile loop over a work queue fed by informers. */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly concurrency: number;
  #reconcile: Reconciler;
  #clock: Clock;
  #m: ReturnType<typeof controllerMetrics>;
  #log: Logger;
  #primaries: Informer<KubeObject>[] = [];
  #sources: Source[] = [];
  #unsubscribe: (() => void)[] = [];
  #hard = new AbortController();
  #started = false;
  #workers: Promise<void>[] = [];
  /** Reconciles since the last look at the process's growth (gc.ts). */
  #sinceCheck = 0;
  #cacheSyncTimeoutMs: number;
  #reconcileTimeoutMs?: number;
  /** Keys whose last failure came from the API's state (unreachable, 5xx, 429, 401, 403), not their own. */
  #failedOnApi = new Set<string>();
  /** Keys retried by a recovery sweep and not yet run again: a second failure waits for its backoff. */
  #swept = new Set<string>();
  #lastSweep = -Infinity;
  #canaryTimer?: TimerHandle;

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
    this.#m = controllerMetrics(registry);
    const l = { controller: this.name };
    for (const result of ["success", "error", "requeue", "requeue_after"]) {
      this.#m.total.inc({ ...l, result }, 0);
    }
    for (const m of [this.#m.errors, this.#m.terminal, this.#m.panics, this.#m.timeouts]) m.inc(l, 0);
    this.#m.maxConcurrent.set(l, this.concurrency);
    this.#m.active.set(l, 0);
    this.#log = logger("runtime", "controller").with({ controller: this.name });
    this.#cacheSyncTimeoutMs = options.cacheSyncTimeoutMs ?? 120_000;
    this.#reconcileTimeoutMs = options.reconcileTimeoutMs;
  }

  /**
   * The primary kind: every add, update (resync included) and delete enqueues the object's own
   * key. Called once per informer of that kind (several when each watches one namespace).
   */
  for<T extends KubeObject>(informer: Informer<T>): this {
    const inf = informer as unknown as Informer<KubeObject>;
    const first = this.#primaries[0];
    if (first && first.resourceType.kind !== inf.resourceType.kind) {
      throw new Error(
        `controller ${this.name}: for() was already called with ${first.resourceType.kind}, not ${inf.resourceType.kind}`,
      );
    }
    this.#primaries.push(inf);
    this.#sources.push({ informer: inf, keys: (o) => [objectKey(o)] });
    return this;
  }

  /**
   * An owned kind: events of a child enqueue its controller owner (the owner reference with
   * `controller: true` whose group and kind match `owner`). An update enqueues the owners of both
   * the old and the new object, so removing the reference still wakes the former owner.
   */
  owns<T extends KubeObject>(informer: Informer<T>, owner: OwnerKind): this {
    const primary = this.#primaries[0];
    const namespaced = owner.namespaced ??
      (primary?.resourceType.kind === owner.kind ? primary.resourceType.namespaced : true);
    const spec = { ...owner, namespaced };
    this.#sources.push({
      informer: informer as unknown as Informer<KubeObject>,
      keys: (o) => [ownerKey(o, spec)],
    });
    return this;
  }

  /** Any other kind: `map` turns each event's object into the keys to enqueue. */
  watches<T extends KubeObject>(informer: Informer<T>, map: (obj: T) => string[]): this {
    this.#sources.push({
      informer: informer as unknown as Informer<KubeObject>,
      keys: (o) => map(o as T),
    });
    return this;
  }

  /** The informers this controller reads. */
  get informers(): Informer<KubeObject>[] {
    return [...new Set(this.#sources.map((s) => s.informer))];
  }

  /** Queues a key now, or after `afterMs` (earliest deadline wins). */
  enqueue(key: string, afterMs?: number): void {
    if (afterMs && afterMs > 0) this.queue.addAfter(key, afterMs);
    else this.queue.add(key);
  }

  /** Queues the key of every object of the primary informer (e.g. after a config change). */
  enqueueAll(): void {
    for (const obj of this.#primaries.flatMap((p) => p.list())) this.queue.add(objectKey(obj));
  }

  /** Whether {@link Controller.start} was called. */
  get started(): boolean {
    return this.#started;
  }

  /**
   * Subscribes to the informers, waits for them to sync (failing after the cache-sync timeout),
   * then runs the workers. Resolves once the queue is shut down and every worker has returned.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name}: already started`);
    this.#started = true;
    const onAbort = () => this.abort(signal?.reason);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (const s of this.#sources) {
        // Initial-list adds and resyncs (same resourceVersion) go at low priority, so real
        // changes are served first after a restart (controller-runtime's priority queue).
        const enqueue = (o: KubeObject, low: boolean) => {
          for (const k of s.keys(o)) if (k) this.queue.add(k, low ? { priority: LOW_PRIORITY } : undefined);
        };
        this.#unsubscribe.push(s.informer.on({
          add: (o, initial) => enqueue(o, initial === true),
          update: (oldObj, newObj) => {
            const resync = oldObj.metadata?.resourceVersion === newObj.metadata?.resourceVersion;
            enqueue(oldObj, resync);
            enqueue(newObj, resync);
          },
          delete: (o) => enqueue(o, false),
        }));
      }
      await this.#waitForSync();
      if (this.queue.shuttingDown) return;
      this.#log.info("starting {workers} workers of controller {controller}", { workers: this.concurrency });
      for (let i = 0; i < this.concurrency; i++) this.#workers.push(this.#worker());
      await Promise.all(this.#workers);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      for (const u of this.#unsubscribe.splice(0)) u();
    }
  }

  /**
   * Graceful stop: no new keys start, in-flight reconciles finish. After `timeoutMs` their
   * signals are aborted. Resolves true when everything finished in time.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<boolean> {
    this.#clock.clearTimeout(this.#canaryTimer);
    const drained = await this.queue.shutDownWithDrain({ discardQueued: true, timeoutMs: options.timeoutMs });
    if (!drained) {
      this.#log.error(
        "reconciles of controller {controller} did not finish within {timeoutMs} ms; aborting them",
        {
          timeoutMs: options.timeoutMs,
        },
      );
      this.#hard.abort(new Error(`controller ${this.name}: shutdown timed out`));
    }
    for (const u of this.#unsubscribe.splice(0)) u();
    return drained;
  }

  /** Immediate stop (leadership lost): intake stops and every in-flight reconcile's signal aborts. */
  abort(reason?: unknown): void {
    this.#clock.clearTimeout(this.#canaryTimer);
    this.queue.shutDown({ discardQueued: true });
    if (!this.#hard.signal.aborted) this.#hard.abort(reason ?? new Error(`controller ${this.name}: stopped`));
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  async #waitForSync(): Promise<void> {
    const pending = this.informers.filter((i) => !i.hasSynced());
    if (!pending.length) return;
    const ac = new AbortController();
    const onHard = () => ac.abort(this.#hard.signal.reason);
    this.#hard.signal.addEventListener("abort", onHard, { once: true });
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => {
        const names = pending.filter((i) => !i.hasSynced()).map((i) => i.name).join(", ");
        reject(
          new Error(
            `controller ${this.name}: failed to wait for caches to sync (${names}) within ${this.#cacheSyncTimeoutMs} ms`,
          ),
        );
      }, this.#cacheSyncTimeoutMs);
    });
    try {
      await Promise.race([Promise.all(pending.map((i) => i.waitForSync(ac.signal))), timeout]);
    } catch (err) {
      if (this.#hard.signal.aborted) return;
      throw err;
    } finally {
      this.#clock.clearTimeout(timer);
      ac.abort();
      this.#hard.signal.removeEventListener("abort", onHard);
    }
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

  /**
   * A reconcile succeeded, so the API answers and the error class that held other keys back may
   * have cleared (the server is back, a permission was granted): retry those keys now instead of
   * at their backoff, which may have grown to minutes. At most every {@link RECOVERY_SWEEP_MS},
   * and a key that fails again after such a retry waits for its own backoff before the next.
   */
  #recoverySweep(log: Logger): void {
    if (!this.#failedOnApi.size || this.#clock.now() - this.#lastSweep < RECOVERY_SWEEP_MS) return;
    this.#lastSweep = this.#clock.now();
    const keys = [...this.#failedOnApi];
    this.#failedOnApi.clear();
    log.info("the API answers again; retrying {count} key(s) that failed on it now, not at their backoff", {
      count: keys.length,
    });
    for (const k of keys) {
      this.#swept.add(k);
      this.queue.add(k);
    }
  }

  /**
   * While keys wait after failing on the API, one of them (in turn) is retried every
   * {@link RECOVERY_SWEEP_MS} as a canary: its success means the error class cleared, and the
   * success path retries all the others. So a fixed permission or a returning server is noticed
   * within seconds even when nothing else reconciles, for one request per period, not one per key.
   */
  #armCanary(): void {
    if (this.#canaryTimer !== undefined || !this.#failedOnApi.size || this.queue.shuttingDown) return;
    this.#canaryTimer = this.#clock.setTimeout(() => {
      this.#canaryTimer = undefined;
      const [key] = this.#failedOnApi;
      if (key === undefined || this.queue.shuttingDown) return;
      this.#failedOnApi.delete(key); // its outcome decides: success sweeps, failure re-adds it
      this.queue.add(key);
    }, RECOVERY_SWEEP_MS);
  }

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
      const after = result && typeof result === "object" ? result.requeueAfterMs : 0;
      this.queue.forget(key);
      this.#failedOnApi.delete(key);
      this.#swept.delete(key);
      this.#recoverySweep(log);
      if (after > 0) {
        this.#m.total.inc({ ...labels, result: "requeue_after" });
        this.queue.addAfter(key, after);
        log.debug("reconciled {key}; requeue after {requeueAfterMs} ms", { requeueAfterMs: after });
      } else {
        this.#m.total.inc({ ...labels, result: "success" });
        log.debug("reconciled {key}");
      }
    } catch (err) {
      this.#m.total.inc({ ...labels, result: "error" });
      this.#m.errors.inc(labels);
      if (timedOut) this.#m.timeouts.inc(labels);
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
      if (!signal.aborted || timedOut) this.queue.addRateLimited(key);
      // Failed because of the API (not the object)? Retry it as soon as the API answers again.
      if (failedOnApi(err) && !this.#swept.delete(key)) {
        this.#failedOnApi.delete(key); // re-added last: the canary takes turns
        this.#failedOnApi.add(key);
        this.#armCanary();
      } else this.#failedOnApi.delete(key);
    } finally {
      this.#clock.clearTimeout(timer);
      this.#m.active.inc(labels, -1);
      this.#m.time.observe(labels, (this.#clock.now() - started) / 1000);
    }
  }
}
