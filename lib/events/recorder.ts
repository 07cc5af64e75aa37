/**
 * The event recorder: kopf-style calls in front, a coalescing, budgeted, retrying writer behind.
 *
 * Emitting only touches memory: an occurrence either starts a series (written at once, the
 * leading edge), is counted into an existing one (written at most every `updateIntervalMs`, the
 * trailing edge), or is dropped and counted. Budgets delay API calls, never occurrences, so a
 * delayed write simply carries a larger count. How many writes are in flight adapts to the API
 * server (AIMD on its answers and latency, Retry-After pauses) and to the owner (its busy signal
 * holds event writes at the floor). Retries are the recorder's own (the client it is given is
 * re-wrapped with retries off) so one failing namespace never holds up the others.
 */
import { hostname } from "node:os";
import process from "node:process";
import { KubeClient } from "../kube/client.ts";
import { builtin } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import { realClock } from "./clock.ts";
import { type ConcurrencyBounds, WriteLimiter } from "./limiter.ts";
import { type EventMetrics, eventMetrics } from "./metrics.ts";
import {
  eventName,
  isQualifiedName,
  normalizeInstance,
  normalizeMessage,
  normalizeReason,
  normalizeType,
} from "./normalize.ts";
import { describeRef, isEventObject, refKey, toRef } from "./reference.ts";
import { type Reporter, type Series } from "./series.ts";
import { COMBINED_PREFIX, SimilarMessages } from "./similar.ts";
import type {
  Budget,
  Clock,
  CloseOptions,
  CloseResult,
  EventFields,
  EventRecorderOptions,
  EventSink,
  EventTarget,
  EventType,
} from "./types.ts";
import { Writer } from "./writer.ts";

const log = logger("events");

/** The settings after defaults. */
export interface RecorderSettings {
  updateIntervalMs: number;
  dedupWindowMs: number;
  maxDistinctMessages: number;
  maxSeries: number;
  maxQueue: number;
  objectBudget: Budget;
  concurrency: ConcurrencyBounds;
  busyHoldMs: number;
  retryBaseMs: number;
  retryMaxDelayMs: number;
  retryTotalMs: number;
  keepNewlines: boolean;
}

/** The concurrency option after defaults: a number fixes the window, an object bounds the adaptive one. */
function concurrencyBounds(option: EventRecorderOptions["concurrency"]): ConcurrencyBounds {
  const int = (v: unknown, fallback: number) =>
    typeof v === "number" && Number.isFinite(v) && v >= 1 ? Math.floor(v) : fallback;
  if (typeof option === "number") {
    const n = int(option, 4);
    return { min: n, initial: n, max: n };
  }
  const min = int(option?.min, 1);
  const max = Math.max(min, int(option?.max, 32));
  const initial = Math.min(max, Math.max(min, int(option?.initial, 4)));
  return { min, initial, max };
}

/** `$POD_NAME` (set from the downward API), then `$HOSTNAME`, then the host name, then the component. */
function defaultInstance(component: string): string {
  let host = process.env.POD_NAME || process.env.HOSTNAME || "";
  if (!host) {
    try {
      host = hostname();
    } catch { /* no permission to read the host name: fall back to the component */ }
  }
  return normalizeInstance(host, component);
}

/**
 * Records Kubernetes Events for any object, in the background. Construct one per process and
 * share it; hand it to the manager (`manager.addCloser(recorder)`) so pending counts are flushed
 * at shutdown.
 */
export class EventRecorder implements EventSink {
  readonly reporter: Reporter;
  readonly settings: RecorderSettings;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #metrics: EventMetrics;
  readonly #writer: Writer;
  readonly #limiter: WriteLimiter;
  /** Live series by dedup key, least recently used first. */
  readonly #index = new Map<string, Series>();
  readonly #similar: SimilarMessages;
  readonly #clusterNamespace: string;
  #closed = false;
  #closeResult?: Promise<CloseResult>;
  #lastClosedLog = -Infinity;
  readonly #dropSummary = new Map<string, { count: number; since: number; loggedAt: number }>();
  #sequence = 0;

  /**
   * @param client the API client; its transport is reused, but retries are the recorder's own
   * @param options see {@link EventRecorderOptions}; throws a TypeError when `component` is not a qualified name
   */
  constructor(client: KubeClient, options: EventRecorderOptions) {
    if (typeof options?.component !== "string" || !isQualifiedName(options.component)) {
      throw new TypeError(
        `EventRecorder: component ${JSON.stringify(options?.component)} is not a Kubernetes qualified name ` +
          "([prefix/]name, name 1-63 characters of A-Z a-z 0-9 - _ .)",
      );
    }
    const component = options.component;
    this.reporter = {
      component,
      instance: normalizeInstance(options.instance ?? defaultInstance(component), component),
    };
    this.settings = {
      updateIntervalMs: options.updateIntervalMs ?? 30_000,
      dedupWindowMs: options.dedupWindowMs ?? 600_000,
      maxDistinctMessages: options.maxDistinctMessages ?? 10,
      maxSeries: options.maxSeries ?? 4096,
      maxQueue: options.maxQueue ?? 10_000,
      objectBudget: options.objectBudget ?? { burst: 25, refillMs: 30_000 },
      concurrency: concurrencyBounds(options.concurrency),
      busyHoldMs: Math.max(0, Number(options.busyHoldMs ?? 8000) || 0),
      retryBaseMs: options.retryBaseMs ?? 500,
      retryMaxDelayMs: options.retryMaxDelayMs ?? 30_000,
      retryTotalMs: options.retryTotalMs ?? 300_000,
      keepNewlines: options.keepNewlines ?? false,
    };
    this.#clusterNamespace = options.clusterNamespace === "kube-system" ? "kube-system" : "default";
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
    const registry = options.registry ?? defaultRegistry;
    this.#metrics = eventMetrics(registry);
    this.#similar = new SimilarMessages(
      this.settings.maxDistinctMessages,
      this.settings.dedupWindowMs,
      this.settings.maxSeries,
    );
    // The recorder owns retries (with its own backoff per series), so the client must not retry
    // a write in place: that would hold a writer slot and delay every other object's events.
    const own = new KubeClient(client.transport, {
      namespace: client.namespace,
      retry: { maxRetries: 0 },
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      registry,
    });
    const metrics = this.#metrics;
    this.#limiter = new WriteLimiter(this.settings.concurrency, this.#clock, {
      window: (limit) => metrics.concurrency.set({}, limit),
      backoff: (cause) => metrics.backoffs.inc({ cause }),
      paused: (ms) => metrics.pausedSeconds.inc({}, ms / 1000),
    });
    this.#writer = new Writer({
      client: own,
      eventType: builtin.Event,
      reporter: this.reporter,
      settings: this.settings,
      clock: this.#clock,
      random: this.#random,
      metrics: this.#metrics,
      newName: (s) => this.#newName(s.ref.name),
      onForget: (s) => this.#forget(s),
      limiter: this.#limiter,
      busy: typeof options.busy === "function" ? options.busy : undefined,
      busyHoldMs: this.settings.busyHoldMs,
      onOverflow: (example, occurrences) => this.#summarizeDrop("overflow", example, occurrences),
    });
  }

  /** Records an event; returns at once and never throws. */
  event(obj: EventTarget, fields: EventFields): void {
    try {
      this.#emit(obj, fields);
    } catch (err) {
      // A recorder bug must never reach the caller; it is logged and counted instead.
      this.#metrics.dropped.inc({ reason: "internal" });
      log.error("event recorder failed to record an event: {error}", { error: String(err) });
    }
  }

  /** Records a Normal event. */
  info(obj: EventTarget, reason: string, message: string): void {
    this.event(obj, { type: "Normal", reason, message });
  }

  /** Records a Warning event. */
  warn(obj: EventTarget, reason: string, message: string): void {
    this.event(obj, { type: "Warning", reason, message });
  }

  /**
   * Records a Warning whose message is `message` followed by the error's text; an empty reason
   * becomes the error's class name (kopf's `exception`, type `Error` mapped to Warning).
   */
  exception(obj: EventTarget, reason: string, message: string, error?: unknown): void {
    let text = "";
    let fallback = "Exception";
    try {
      if (error instanceof Error) {
        text = error.message || error.name;
        fallback = error.name || fallback;
      } else if (error !== undefined) text = String(error);
    } catch { /* an error whose message getter throws: record the event without its text */ }
    const message2 = [String(message ?? ""), text].filter((p) => p.length > 0).join(" ");
    this.event(obj, { type: "Warning", reason: normalizeReason(reason, fallback), message: message2 });
  }

  /**
   * Stops accepting events, then flushes pending creates and final counts of every series,
   * ignoring budgets and the update interval, and resolves by `timeoutMs` (default 5 s) even when
   * the API hangs. Idempotent: later calls return the first call's result.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    this.#closed = true;
    this.#closeResult ??= this.#writer.flush(options.timeoutMs ?? 5000);
    return this.#closeResult;
  }

  /** Series waiting for a write (the `events_queue_depth` gauge). */
  get queueDepth(): number {
    return this.#writer.pendingCount;
  }

  /** Series remembered for coalescing. */
  get seriesCount(): number {
    return this.#index.size;
  }

  /** The current adaptive limit on concurrent writes (the `events_write_concurrency` gauge). */
  get writeConcurrency(): number {
    return this.#limiter.limit;
  }

  /** Writes in flight now. */
  get writesInFlight(): number {
    return this.#writer.inFlight;
  }

  #newName(objectName: string): string {
    return eventName(objectName, this.#clock.now(), this.#sequence++, this.#random);
  }

  #forget(s: Series): void {
    if (this.#index.get(s.key) === s) this.#index.delete(s.key);
    this.#metrics.series.set({}, this.#index.size);
  }

  /**
   * What the caller cannot see is summarised at warning level at most once a minute per kind
   * (each one is also in the debug log and the metrics), so none is silent and none floods the
   * log: drops of invalid events, and occurrences whose text was folded into overflow Events.
   */
  #summarizeDrop(reason: "invalid" | "overflow", example: string, occurrences = 1): void {
    const now = this.#clock.now();
    const entry = this.#dropSummary.get(reason) ?? { count: 0, since: now, loggedAt: -Infinity };
    entry.count += occurrences;
    this.#dropSummary.set(reason, entry);
    if (now - entry.loggedAt < 60_000) return;
    if (reason === "overflow") {
      log.warning(
        "the event queue was full: the text of {count} Kubernetes event occurrence(s) since {since} was given up " +
          "and their count carried by overflow Events (combined per namespace, type and reason), e.g. for {example}",
        { count: entry.count, since: new Date(entry.since).toISOString(), example },
      );
    } else {
      log.warning("dropped {count} Kubernetes event(s) ({reason}) since {since}, e.g. for {example}", {
        count: entry.count,
        reason,
        since: new Date(entry.since).toISOString(),
        example,
      });
    }
    this.#dropSummary.set(reason, { count: 0, since: now, loggedAt: now });
  }

  #logEmission(
    object: string,
    type: string,
    reason: string,
    message: string,
    outcome: "written" | "coalesced" | "dropped",
    extra: Record<string, unknown> = {},
  ): void {
    if (!log.isEnabledFor("debug")) return;
    // `eventMessage`, not `message`: JSON log lines already use `message` for the rendered text.
    log.debug("Emitted Kubernetes event {type} {reason} on {object}: {eventMessage} ({outcome})", {
      object,
      type,
      reason,
      eventMessage: message,
      outcome,
      ...extra,
    });
  }

  #emit(obj: EventTarget, given: EventFields | undefined): void {
    // Untyped callers may pass nothing: that is an event with an empty reason and message, not a crash.
    const fields: Partial<EventFields> = typeof given === "object" && given !== null ? given : {};
    const type: EventType = normalizeType(fields.type);
    this.#metrics.emitted.inc({ type });
    const ref = toRef(obj);
    const rawReason = String(fields.reason ?? "");
    if (typeof ref === "string") {
      this.#metrics.dropped.inc({ reason: "invalid" });
      this.#summarizeDrop("invalid", `an object (${ref})`);
      this.#logEmission("?", type, rawReason, "", "dropped", { dropReason: "invalid", problem: ref });
      return;
    }
    const object = describeRef(ref);
    if (isEventObject(ref)) {
      // Events about Events would feed an operator that watches Events with its own output.
      this.#metrics.dropped.inc({ reason: "event-for-event" });
      this.#logEmission(object, type, rawReason, "", "dropped", { dropReason: "event-for-event" });
      return;
    }
    if (this.#closed) {
      this.#metrics.dropped.inc({ reason: "closed" });
      const now = this.#clock.now();
      if (now - this.#lastClosedLog >= 1000) {
        this.#lastClosedLog = now;
        log.warning("event recorder is closed; dropping event {reason} for {object}", {
          reason: rawReason,
          object,
        });
      }
      this.#logEmission(object, type, rawReason, "", "dropped", { dropReason: "closed" });
      return;
    }
    const now = this.#clock.now();
    const reason = normalizeReason(fields.reason);
    const action = normalizeReason(fields.action, reason);
    let message = normalizeMessage(fields.message, this.settings.keepNewlines);
    const relatedRef = fields.related === undefined ? undefined : toRef(fields.related);
    const related = typeof relatedRef === "object" ? relatedRef : undefined;
    if (typeof relatedRef === "string") {
      log.debug("ignoring the related object of event {reason} for {object}: {problem}", {
        reason,
        object,
        problem: relatedRef,
      });
    }
    if (!ref.uid) log.debug("event for {object} has no uid; kubectl describe may not show it", { object });
    const objKey = refKey(ref);
    const aggKey = `${objKey}\u0002${type}\u0002${reason}\u0002${action}\u0002${
      related ? refKey(related) : ""
    }`;
    let key = `${aggKey}\u0003${message}`;
    let combined = false;
    if (this.#similar.classify(aggKey, message, now) === "fold") {
      combined = true;
      key = `${aggKey}\u0003\u0004combined`;
      message = normalizeMessage(COMBINED_PREFIX + message, this.settings.keepNewlines);
    }
    let s = this.#index.get(key);
    if (s && !s.pending && !s.inFlight && s.lastAt + this.settings.dedupWindowMs <= now) {
      this.#forget(s); // idle past the window: a new Event starts a new series
      s = undefined;
    }
    if (s) {
      if (s.lastAt !== now) {
        this.#index.delete(key);
        this.#index.set(key, s); // most recently used last (once per clock tick: the hot path)
      }
      // The oldest occurrence the server lacks, and the first one after a write in flight, for the delivery lag.
      if (s.count === s.serverCount) s.pendingSince = now;
      if (s.inFlight && s.count === s.sendingCount) s.nextPendingSince = now;
      s.count++;
      s.lastAt = now;
      if (combined) s.message = message;
      this.#metrics.coalesced.inc();
      this.#writer.schedule(s);
      this.#logEmission(object, type, reason, message, "coalesced", { count: s.count, event: s.name });
      return;
    }
    s = {
      key,
      budgetKey: `${objKey}\u0002${reason}`,
      ref,
      related,
      namespace: ref.namespace ?? this.#clusterNamespace,
      type,
      reason,
      action,
      message,
      combined,
      name: this.#newName(ref.name),
      count: 1,
      serverCount: 0,
      serverMessage: message,
      created: false,
      firstAt: now,
      lastAt: now,
      lastWriteAt: -Infinity,
      pendingSince: now,
      sendingCount: -1,
      inFlight: false,
      pending: false,
      evicted: false,
      attempt: 0,
      unansweredCreate: false,
      dueAt: now,
      slot: -1,
      readySlot: -1,
    };
    const carrier = this.#writer.admit(s);
    if (carrier !== s) {
      // The queue is full and nothing else could give way: counted into an overflow Event.
      this.#metrics.coalesced.inc();
      this.#logEmission(object, type, reason, message, "coalesced", {
        count: carrier.count,
        event: carrier.name,
        overflow: true,
      });
      return;
    }
    this.#index.set(key, s);
    this.#evictOverflow();
    this.#metrics.series.set({}, this.#index.size);
    this.#writer.schedule(s);
    this.#logEmission(object, type, reason, message, "written", { event: s.name, namespace: s.namespace });
  }

  /** Keeps the index within `maxSeries`: a pending series leaves the index but is flushed first. */
  #evictOverflow(): void {
    while (this.#index.size > this.settings.maxSeries) {
      const oldest = this.#index.values().next().value!;
      this.#index.delete(oldest.key);
      if (oldest.pending || oldest.inFlight) oldest.evicted = true;
    }
  }
}
