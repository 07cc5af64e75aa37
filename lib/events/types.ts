/**
 * The public shapes of the event recorder: what callers pass in (objects, event fields, options)
 * and what {@link EventSink} promises. Kept apart from the implementation so that code which only
 * emits events (reconcilers, the runtime) depends on these types and nothing else.
 */
import type { Registry } from "../observe/metrics.ts";
import type { Clock } from "../time/clock.ts";
import type { Budget } from "../time/token-bucket.ts";

/** A token bucket's size (the time module's). */
export type { Budget };

/**
 * The event types the API server and every tool understand. Anything else passed in (kopf's
 * free-form types such as `Error`, `Fatal`, `Debug`) is mapped to one of these two; see
 * {@link EventFields.type}.
 */
export type EventType = "Normal" | "Warning";

/**
 * The object an event is about: any object body (`{apiVersion, kind, metadata: {name, namespace,
 * uid}}`) or a plain reference (`{apiVersion, kind, name, namespace?, uid?}`). A missing or empty
 * namespace means a cluster-scoped object. `kind` and `name` are required; `uid` is strongly
 * recommended because `kubectl describe` matches on it.
 */
export type EventTarget =
  | {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string; uid?: string; [k: string]: unknown };
    [field: string]: unknown;
  }
  | ObjectReferenceLike;

/** A plain object reference, as in `involvedObject`. */
export interface ObjectReferenceLike {
  /** The object's apiVersion, e.g. `v1` or `dataflow.dataflow.io/v1`. */
  apiVersion?: string;
  /** The object's kind (required for an event to be recorded). */
  kind?: string;
  /** The object's name (required for an event to be recorded). */
  name?: string;
  /** The object's namespace; empty or missing for a cluster-scoped object. */
  namespace?: string;
  /** The object's uid: `kubectl describe` matches events on it. */
  uid?: string;
  /** Other fields are ignored. */
  [field: string]: unknown;
}

/** The fields of one event occurrence. */
export interface EventFields {
  /**
   * `Normal` or `Warning`. Level-like and kopf-style types are mapped case-insensitively:
   * `warning`, `warn`, `error`, `err`, `fatal`, `critical`, `exception` become `Warning`; every other
   * value (`Normal`, `info`, `debug`, kopf's free-form `SomeType`, empty) becomes `Normal`.
   */
  type?: string;
  /** Short CamelCase cause, e.g. `ReconcileFailed`; spaces are removed (`"Failed to sync"` -> `FailedToSync`). */
  reason: string;
  /** Human-readable text; control characters become spaces and it is cut to 1024 UTF-8 bytes. */
  message: string;
  /** What was done or failed, e.g. `Reconcile`; defaults to the reason. */
  action?: string;
  /** A second object the event is also about (the `related` field). */
  related?: EventTarget;
}

/**
 * Anything that records Kubernetes Events. Every method returns at once, never throws, never
 * waits for the network, and is safe to call from any callback; delivery happens in the background.
 */
export interface EventSink {
  /** Records an event with explicit fields (kopf's `kopf.event`). */
  event(obj: EventTarget, fields: EventFields): void;
  /** Records a `Normal` event (kopf's `kopf.info`). */
  info(obj: EventTarget, reason: string, message: string): void;
  /** Records a `Warning` event (kopf's `kopf.warn`). */
  warn(obj: EventTarget, reason: string, message: string): void;
  /**
   * Records a `Warning` whose message is `message` followed by the error's text (kopf's
   * `kopf.exception`, whose type `Error` maps to `Warning`). An empty reason becomes the error's
   * class name.
   */
  exception(obj: EventTarget, reason: string, message: string, error?: unknown): void;
}

/** Options of {@link EventRecorder}. Every duration is in milliseconds. */
export interface EventRecorderOptions {
  /**
   * `source.component` and `reportingComponent`, e.g. `dataflow-controller`. Must be a Kubernetes
   * qualified name (`[prefix/]name`, name 1-63 of `[A-Za-z0-9._-]`): checked in the constructor.
   */
  component: string;
  /**
   * `reportingInstance`; default `$POD_NAME`, then `$HOSTNAME`, then the host name, then the
   * component (cut to 128 bytes).
   */
  instance?: string;
  /** Where the `events_*` metrics go (default: the process registry). */
  registry?: Registry;
  /** Namespace for events about cluster-scoped objects: `default` (default) or `kube-system`. */
  clusterNamespace?: "default" | "kube-system";
  /** Minimum time between two writes of one series (count updates); default 30 s. */
  updateIntervalMs?: number;
  /** How long an idle series is remembered (and similar messages counted); default 10 min. */
  dedupWindowMs?: number;
  /**
   * Distinct messages per (object, type, reason, action, related object) in the window before
   * folding; default 10.
   */
  maxDistinctMessages?: number;
  /** Series remembered at most (least recently used are flushed, then forgotten); default 4096. */
  maxSeries?: number;
  /**
   * Series waiting for a write at most; default 10,000. A new series that does not fit makes room by
   * folding the oldest waiting series (Normal count updates, then Normal creates, then Warnings) into
   * an overflow Event per (namespace, type, reason) that carries its count: its text is given up,
   * never a count (`events_overflow_coalesced_total`). Count updates of series already held (at
   * most `maxSeries`) are not checked against it: they take no memory of their own.
   */
  maxQueue?: number;
  /** Per (object, reason) API-call budget; default burst 25, one more every 30 s (monotonic time). */
  objectBudget?: Budget;
  /**
   * Writes in flight at once: an adaptive window (AIMD) between `min` and `max`, starting at
   * `initial`; default `{min: 1, initial: 4, max: 32}`. A number fixes the window at that size.
   */
  concurrency?: number | { min?: number; initial?: number; max?: number };
  /**
   * The owner's own writes are waiting (e.g. reconciles queued while every worker is busy): while
   * this returns true, at most `concurrency.min` event writes are in flight, so the owner's writes
   * go first. Called before each write; must be cheap and never throw (a throw counts as false).
   */
  busy?: () => boolean;
  /**
   * While `busy` is on, the events of a namespace with a burst waiting (more than 10 series) are
   * held until they are this old, so a burst's events go out mostly after the reconciles they
   * would slow down, yet within this bound; a namespace with a few events is never held. Default
   * 8 s (the objective is every event on the server within 10 s); 0 never holds.
   */
  busyHoldMs?: number;
  /** First retry backoff (full jitter, doubling); default 500 ms. */
  retryBaseMs?: number;
  /** Cap of one backoff; default 30 s. */
  retryMaxDelayMs?: number;
  /** Give up on a write after retrying this long; default 5 min. */
  retryTotalMs?: number;
  /** Deadline of one API request; default 10 s. */
  requestTimeoutMs?: number;
  /** Keep newlines in messages instead of turning them into spaces; default false. */
  keepNewlines?: boolean;
  /**
   * The clock (lib/time): budgets, the update interval, retries and the close deadline run on its
   * monotonic `now()`, Event timestamps and names on its `wallNow()`. Default `backgroundClock`,
   * whose timers never keep a process alive; tests pass a `FakeClock`.
   */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter and names; tests may pass a seeded one. */
  random?: () => number;
}

/** Options of {@link EventRecorder.close}. */
export interface CloseOptions {
  /** Deadline of the final flush, on the recorder's clock; default 5 s. */
  timeoutMs?: number;
}

/** What {@link EventRecorder.close} managed to deliver. */
export interface CloseResult {
  /** API writes made during the flush. */
  flushed: number;
  /** Occurrences that could not be written before the deadline (also counted as dropped `abandoned`). */
  abandoned: number;
}
