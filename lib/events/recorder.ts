/**
 * The event recorder: kopf's `event`, `info`, `warn` and `exception` in front of the correlator
 * (correlator.ts: new series or counted into one) and the writer (writer.ts: budgeted, adaptive,
 * retrying writes in the background).
 *
 * Emitting only touches memory: an occurrence either starts a series (written at once, the
 * leading edge), is counted into an existing one (written at most every `updateIntervalMs`, the
 * trailing edge), or is dropped and counted. Budgets delay API calls, never occurrences, so a
 * delayed write simply carries a larger count. Retries are the recorder's own (the client it is
 * given is re-wrapped with retries off) so one failing namespace never holds up the others.
 */
import { KubeClient } from "../kube/client.ts";
import { builtin } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import { backgroundClock, type Clock } from "../time/clock.ts";
import { EventCorrelator } from "./correlator.ts";
import { DropSummary } from "./drop-summary.ts";
import { WriteLimiter } from "./limiter.ts";
import { type EventMetrics, eventMetrics } from "./metrics.ts";
import { eventName, normalizeReason, normalizeType } from "./normalize.ts";
import { describeRef, isEventObject, toRef } from "./reference.ts";
import { reporterOf, resolveSettings } from "./settings.ts";
import type {
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

/** How an emission ended, for the debug log. */
type Outcome = "written" | "coalesced" | "dropped";

/**
 * Records Kubernetes Events for any object, in the background. Construct one per process and
 * share it; hand it to the manager (`manager.addCloser(recorder)`) so pending counts are flushed
 * at shutdown.
 */
export class EventRecorder implements EventSink {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #metrics: EventMetrics;
  readonly #correlator: EventCorrelator;
  readonly #writer: Writer;
  readonly #limiter: WriteLimiter;
  readonly #drops: DropSummary;
  #closed = false;
  #closeResult?: Promise<CloseResult>;
  #lastClosedLog = -Infinity;
  #sequence = 0;

  /**
   * Creates a recorder; it writes in the background until {@link EventRecorder.close}.
   * @param client the API client; its transport is reused, but retries are the recorder's own
   * @param options see {@link EventRecorderOptions}; throws a TypeError when `component` is not a qualified name
   */
  constructor(client: KubeClient, options: EventRecorderOptions) {
    const reporter = reporterOf(options);
    const settings = resolveSettings(options);
    this.#clock = options.clock ?? backgroundClock;
    this.#random = options.random ?? Math.random;
    const registry = options.registry ?? defaultRegistry;
    const metrics = this.#metrics = eventMetrics(registry);
    this.#drops = new DropSummary(this.#clock);
    this.#correlator = new EventCorrelator(settings, (name) => this.#newName(name));
    // The recorder owns retries (with its own backoff per series), so the client must not retry
    // a write in place: that would hold a writer slot and delay every other object's events.
    const own = new KubeClient(client.transport, {
      namespace: client.namespace,
      retry: { maxRetries: 0 },
      requestTimeoutMs: settings.requestTimeoutMs,
      registry,
    });
    this.#limiter = new WriteLimiter(settings.concurrency, this.#clock, {
      window: (limit) => metrics.concurrency.set({}, limit),
      backoff: (cause) => metrics.backoffs.inc({ cause }),
      paused: (ms) => metrics.pausedSeconds.inc({}, ms / 1000),
    });
    this.#writer = new Writer({
      client: own,
      eventType: builtin.Event,
      reporter,
      settings,
      clock: this.#clock,
      random: this.#random,
      metrics,
      newName: (s) => this.#newName(s.ref.name),
      onForget: (s) => {
        this.#correlator.forget(s);
        metrics.series.set({}, this.#correlator.size);
      },
      limiter: this.#limiter,
      busy: typeof options.busy === "function" ? options.busy : undefined,
      onOverflow: (example, occurrences) => this.#drops.note("overflow", example, occurrences),
    });
  }

  /** Records an event; returns at once and never throws. */
  event(obj: EventTarget, fields: EventFields): void {
    this.#guarded(() => this.#emit(obj, fields));
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
    // Guarded as a whole: an untyped caller's reason or message may have no string form at all.
    this.#guarded(() => {
      let text = "";
      let fallback = "Exception";
      try {
        if (error instanceof Error) {
          text = error.message || error.name;
          fallback = error.name || fallback;
        } else if (error !== undefined) text = String(error);
      } catch { /* an error whose message getter throws: record the event without its text */ }
      const message2 = [String(message ?? ""), text].filter((p) => p.length > 0).join(" ");
      this.#emit(obj, { type: "Warning", reason: normalizeReason(reason, fallback), message: message2 });
    });
  }

  /**
   * Stops accepting events, then flushes pending creates and final counts of every series,
   * ignoring budgets and the update interval, and resolves by `timeoutMs` (default 5 s, on the
   * recorder's clock) even when the API hangs. Idempotent: later calls return the first call's result.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    if (!this.#closed) this.#drops.close();
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
    return this.#correlator.size;
  }

  /** The current adaptive limit on concurrent writes (the `events_write_concurrency` gauge). */
  get writeConcurrency(): number {
    return this.#limiter.limit;
  }

  /** Writes in flight now. */
  get writesInFlight(): number {
    return this.#writer.inFlight;
  }

  /** Runs one emission; a recorder bug (or a caller's value that cannot be read) never reaches the caller. */
  #guarded(emit: () => void): void {
    try {
      emit();
    } catch (err) {
      this.#metrics.dropped.inc({ reason: "internal" });
      let error = "an error without a string form";
      try {
        error = String(err); // a caller's getter may throw anything, even a value String() refuses
      } catch { /* keep the placeholder */ }
      log.error("event recorder failed to record an event: {error}", { error });
    }
  }

  /** A unique Event name; its time part is wall time, so the name tells when the series began. */
  #newName(objectName: string): string {
    return eventName(objectName, this.#clock.wallNow().getTime(), this.#sequence++, this.#random);
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
      this.#drops.note("invalid", `an object (${ref})`);
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
    // Whole milliseconds: the correlator refreshes its LRU order once per tick, and a fractional
    // monotonic clock would make every emit a new tick.
    const now = Math.floor(this.#clock.now());
    if (this.#closed) {
      this.#metrics.dropped.inc({ reason: "closed" });
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
    if (!ref.uid) log.debug("event for {object} has no uid; kubectl describe may not show it", { object });
    const { kind, series: s, relatedProblem } = this.#correlator.correlate({ ref, type, fields }, now);
    if (relatedProblem) {
      log.debug("ignoring the related object of event {reason} for {object}: {problem}", {
        reason: s.reason,
        object,
        problem: relatedProblem,
      });
    }
    if (kind === "counted") {
      this.#metrics.coalesced.inc();
      this.#writer.schedule(s);
      this.#logEmission(object, type, s.reason, s.message, "coalesced", { count: s.count, event: s.name });
      return;
    }
    const carrier = this.#writer.admit(s);
    this.#metrics.series.set({}, this.#correlator.size);
    if (carrier !== s) {
      // The queue is full and nothing else could give way: counted into an overflow Event.
      this.#metrics.coalesced.inc();
      this.#logEmission(object, type, s.reason, s.message, "coalesced", {
        count: carrier.count,
        event: carrier.name,
        overflow: true,
      });
      return;
    }
    this.#writer.schedule(s);
    this.#logEmission(object, type, s.reason, s.message, "written", {
      event: s.name,
      namespace: s.namespace,
    });
  }

  #logEmission(
    object: string,
    type: string,
    reason: string,
    message: string,
    outcome: Outcome,
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
}
