/**
 * One Event series: the occurrences of one identical event (same object, type, reason, action,
 * related object and message), written as one core/v1 Event whose `count` is coalesced in memory.
 */
import { microTime, secondTime } from "./normalize.ts";
import type { ObjectRef } from "./reference.ts";
import type { EventType } from "./types.ts";
import type { CoreEventBody } from "./validate.ts";

/** The state of one series. */
export interface Series {
  /** Dedup key (object identity + fields + message). */
  readonly key: string;
  /** Budget key: object identity + reason. */
  readonly budgetKey: string;
  readonly ref: ObjectRef;
  readonly related?: ObjectRef;
  /** Namespace the Event lives in. */
  readonly namespace: string;
  readonly type: EventType;
  readonly reason: string;
  readonly action: string;
  /** Current message (the combined series shows the latest folded one). */
  message: string;
  /** Whether this is the "(combined from similar events)" series. */
  readonly combined: boolean;
  /**
   * Whether this is an overflow Event: series that did not fit the write queue, per (namespace,
   * type, reason), folded in with their counts; `folded` says how many.
   */
  overflow?: boolean;
  folded?: number;
  /** The Event's name; changes only when the Event must be re-created. */
  name: string;
  /** Occurrences the Event should show. */
  count: number;
  /** Count the server is known to have (0 before the create succeeded). */
  serverCount: number;
  /** Message the server is known to have. */
  serverMessage: string;
  created: boolean;
  /** Time of the first and the latest occurrence of the current Event. */
  firstAt: number;
  lastAt: number;
  /** Start of the latest write, for the update interval. */
  lastWriteAt: number;
  /** Emission time of the oldest occurrence not yet on the server (for `events_delivery_lag_seconds`). */
  pendingSince: number;
  /** Emission time of the first occurrence after those the write in flight carries. */
  nextPendingSince?: number;
  /** The count the write in flight carries (-1 when none is in flight). */
  sendingCount: number;
  inFlight: boolean;
  /** Waiting for a write (count or message ahead of the server). */
  pending: boolean;
  /** Removed from the index; flushed, then forgotten. */
  evicted: boolean;
  /** Retry state. */
  attempt: number;
  failingSince?: number;
  /** A create with this name was sent but not answered: AlreadyExists then means it went through. */
  unansweredCreate: boolean;
  /** Earliest time of the next write, and its timer. */
  dueAt: number;
  timer?: unknown;
  /** Priority slot while pending (-1 when not), and while in the ready queue (-1 when not). */
  slot: number;
  readySlot: number;
}

/** Whether the server lags the in-memory state. */
export function needsWrite(s: Series): boolean {
  return s.count > s.serverCount || (s.created && s.message !== s.serverMessage);
}

/** Reporting identity put on every Event. */
export interface Reporter {
  component: string;
  instance: string;
}

/** The full core/v1 body of a create: old and new fields both set, so every kubectl shows it. */
export function createBody(s: Series, reporter: Reporter): CoreEventBody {
  const body: CoreEventBody = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: s.name, namespace: s.namespace },
    involvedObject: { ...s.ref },
    reason: s.reason,
    message: s.message,
    type: s.type,
    count: s.count,
    firstTimestamp: secondTime(s.firstAt),
    lastTimestamp: secondTime(s.lastAt),
    eventTime: microTime(s.firstAt),
    source: { component: reporter.component },
    reportingComponent: reporter.component,
    reportingInstance: reporter.instance,
    action: s.action,
  };
  if (s.related) body.related = { ...s.related };
  return body;
}

/** The merge patch of a count update: only what changed, so nothing immutable is touched. */
export function updatePatch(s: Series): Record<string, unknown> {
  const patch: Record<string, unknown> = { count: s.count, lastTimestamp: secondTime(s.lastAt) };
  if (s.message !== s.serverMessage) patch.message = s.message;
  return patch;
}
