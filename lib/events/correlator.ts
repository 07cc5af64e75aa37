/**
 * The correlator, as client-go's EventCorrelator: for each occurrence it decides whether it starts
 * a new series (a new Event, written at once) or is counted into a series that already exists
 * (its Event's count, written later). It is pure over its own memory: no I/O, no timers, no clock
 * of its own (the caller passes the monotonic `now`), no logging and no metrics, so every rule
 * below is tested as a function (docs/behaviour/events.md, "Aggregation").
 *
 * - Identical occurrences (same object, type, reason, action, related object and message) are one
 *   series; a series idle for `dedupWindowMs` is forgotten, so its next occurrence starts a new
 *   Event.
 * - Per (object, type, reason, action, related), the first `maxDistinctMessages` distinct
 *   messages within the window keep their own series; further ones fold into one
 *   "(combined from similar events)" series (similar.ts).
 * - At most `maxSeries` series are remembered, least recently used forgotten first; one with a
 *   write still to do is marked evicted, so the writer flushes it before it is gone.
 */
import { normalizeMessage, normalizeReason } from "./normalize.ts";
import { type ObjectRef, refKey, type RefProblem, toRef } from "./reference.ts";
import { addOccurrences, newSeries, type Series } from "./series.ts";
import type { RecorderSettings } from "./settings.ts";
import { COMBINED_PREFIX, SimilarMessages } from "./similar.ts";
import type { EventFields, EventType } from "./types.ts";

/** One occurrence of an event about a valid object (the recorder drops the others before). */
export interface Occurrence {
  /** The object the event is about. */
  ref: ObjectRef;
  /** The type after mapping (types.ts). */
  type: EventType;
  /** The caller's fields, not yet normalized (anything may be in them). */
  fields: Partial<EventFields>;
}

/** What the correlator made of an occurrence. */
export interface Correlation {
  /** `new`: the occurrence starts a series (its Event is to be created); `counted`: it was counted into one. */
  kind: "new" | "counted";
  /** The series that carries the occurrence. */
  series: Series;
  /** Why the `related` object was ignored, when it was given but unusable. */
  relatedProblem?: RefProblem;
}

/** The settings the correlator reads. */
export type CorrelatorSettings = Pick<
  RecorderSettings,
  "dedupWindowMs" | "maxDistinctMessages" | "maxSeries" | "keepNewlines" | "clusterNamespace"
>;

/** Remembers live series and correlates occurrences with them. */
export class EventCorrelator {
  readonly #settings: CorrelatorSettings;
  readonly #newName: (objectName: string) => string;
  /** Live series by dedup key, least recently used first. */
  readonly #index = new Map<string, Series>();
  readonly #similar: SimilarMessages;

  /**
   * @param settings the windows and bounds
   * @param newName a fresh unique Event name for an object's new series
   */
  constructor(settings: CorrelatorSettings, newName: (objectName: string) => string) {
    this.#settings = settings;
    this.#newName = newName;
    this.#similar = new SimilarMessages(
      settings.maxDistinctMessages,
      settings.dedupWindowMs,
      settings.maxSeries,
    );
  }

  /** Series remembered. */
  get size(): number {
    return this.#index.size;
  }

  /**
   * Correlates one occurrence at `now` (monotonic milliseconds; whole ones keep the hot path
   * cheap, as the LRU order is refreshed once per tick): counts it into its series, or starts a
   * new one and remembers it.
   */
  correlate(occurrence: Occurrence, now: number): Correlation {
    const { ref, type, fields } = occurrence;
    const keepNewlines = this.#settings.keepNewlines;
    const reason = normalizeReason(fields.reason);
    const action = normalizeReason(fields.action, reason);
    let message = normalizeMessage(fields.message, keepNewlines);
    const relatedRef = fields.related === undefined ? undefined : toRef(fields.related);
    const related = typeof relatedRef === "object" ? relatedRef : undefined;
    const relatedProblem = typeof relatedRef === "string" ? relatedRef : undefined;
    const objKey = refKey(ref);
    const aggKey = `${objKey}\u0002${type}\u0002${reason}\u0002${action}\u0002${
      related ? refKey(related) : ""
    }`;
    let key = `${aggKey}\u0003${message}`;
    let combined = false;
    if (this.#similar.classify(aggKey, message, now) === "fold") {
      combined = true;
      key = `${aggKey}\u0003\u0004combined`;
      message = normalizeMessage(COMBINED_PREFIX + message, keepNewlines);
    }
    let s = this.#index.get(key);
    if (s && !s.pending && !s.inFlight && s.lastAt + this.#settings.dedupWindowMs <= now) {
      this.forget(s); // idle past the window: a new Event starts a new series
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
      addOccurrences(s, 1);
      s.lastAt = now;
      if (combined) s.message = message;
      return { kind: "counted", series: s, relatedProblem };
    }
    s = newSeries({
      key,
      budgetKey: `${objKey}\u0002${reason}`,
      ref,
      related,
      namespace: ref.namespace ?? this.#settings.clusterNamespace,
      type,
      reason,
      action,
      message,
      combined,
      name: this.#newName(ref.name),
      at: now,
    });
    this.#index.set(key, s);
    this.#evictLeastRecentlyUsed();
    return { kind: "new", series: s, relatedProblem };
  }

  /** Forgets `s` (its Event was never created, or it is finished); a later occurrence starts a new series. */
  forget(s: Series): void {
    if (this.#index.get(s.key) === s) this.#index.delete(s.key);
  }

  /** Keeps the index within `maxSeries`: a series with a write to do leaves it but is flushed first. */
  #evictLeastRecentlyUsed(): void {
    while (this.#index.size > this.#settings.maxSeries) {
      const oldest = this.#index.values().next().value!;
      this.#index.delete(oldest.key);
      if (oldest.pending || oldest.inFlight) oldest.evicted = true;
    }
  }
}
