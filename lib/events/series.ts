/**
 * One Event series: the occurrences of one identical event (same object, type, reason, action,
 * related object and message), written as one core/v1 Event whose `count` is coalesced in memory.
 *
 * Every time kept on a series is on the clock's monotonic scale; wall time is read only when a
 * body is built, to stamp `eventTime`, `firstTimestamp` and `lastTimestamp` (see {@link WallStamp}).
 */
import type { Clock, TimerHandle } from "../time/clock.ts";
import { microTime, secondTime } from "./normalize.ts";
import type { ObjectRef } from "./reference.ts";
import type { Slot } from "./slots.ts";
import type { Reporter } from "./settings.ts";
import type { EventType } from "./types.ts";
import type { CoreEventBody } from "./validate.ts";

/**
 * The largest count an Event can carry (core/v1 `count` is an int32; the API server refuses a
 * larger one). A series that reaches it stays there: later occurrences are beyond what the Event
 * can say, and counting on would make every later write of it fail.
 */
export const MAX_EVENT_COUNT = 2 ** 31 - 1;

/** Adds `n` occurrences to the series' count, saturating at {@link MAX_EVENT_COUNT}. */
export function addOccurrences(s: Series, n: number): void {
  s.count = Math.min(s.count + n, MAX_EVENT_COUNT);
}

/** The state of one series: what the correlator counts, and what the writer has delivered. */
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
  /** Removed from the correlator's index; flushed, then forgotten. */
  evicted: boolean;
  /** Retry state. */
  attempt: number;
  failingSince?: number;
  /**
   * A create with this name was sent and its outcome is unknown (no answer, a broken answer or a
   * 5xx): AlreadyExists then means it went through.
   */
  unansweredCreate: boolean;
  /** Earliest time of the next write, and its timer. */
  dueAt: number;
  timer?: TimerHandle;
  /** The priority slot it waits in while pending. */
  waitingIn?: Slot;
  /** Where it is while due for a write: the ready line of a slot, or held back for the owner. */
  readyIn?: Slot | "held";
}

/** What a new series is made of; every delivery field starts empty. */
export interface SeriesInit {
  key: string;
  budgetKey: string;
  ref: ObjectRef;
  related?: ObjectRef;
  namespace: string;
  type: EventType;
  reason: string;
  action: string;
  message: string;
  combined: boolean;
  name: string;
  /** Emission time of its first occurrence. */
  at: number;
}

/** A series with one occurrence at `init.at`, nothing of it on the server yet. */
export function newSeries(init: SeriesInit): Series {
  const { at, ...fields } = init;
  return {
    ...fields,
    count: 1,
    serverCount: 0,
    serverMessage: fields.message,
    created: false,
    firstAt: at,
    lastAt: at,
    lastWriteAt: -Infinity,
    pendingSince: at,
    sendingCount: -1,
    inFlight: false,
    pending: false,
    evicted: false,
    attempt: 0,
    unansweredCreate: false,
    dueAt: at,
  };
}

/** Whether the server lags the in-memory state. */
export function needsWrite(s: Series): boolean {
  return s.count > s.serverCount || (s.created && s.message !== s.serverMessage);
}

/**
 * Takes back what the server does not have: the series' count and message become the server's
 * again and its retry state is cleared (its unwritten occurrences were dropped or folded into
 * another series). Returns true when the series was never created, so it must be forgotten.
 */
export function rollBackToServer(s: Series): boolean {
  s.count = s.serverCount;
  s.message = s.serverMessage;
  s.attempt = 0;
  s.failingSince = undefined;
  if (s.created) return false;
  s.evicted = true;
  return true;
}

/** Maps a monotonic time of the clock to wall-clock milliseconds. */
export type WallStamp = (monotonicMs: number) => number;

/**
 * The wall time of monotonic instants, as the wall clock reads now: `wallNow() - (now() - t)`.
 * Taken once per write, so the timestamps of one Event keep their order even if the system
 * clock is stepped between its occurrences.
 */
export function wallStamp(clock: Clock): WallStamp {
  const offset = clock.wallNow().getTime() - clock.now();
  return (t) => t + offset;
}

/** The full core/v1 body of a create: old and new fields both set, so every kubectl shows it. */
export function createBody(s: Series, reporter: Reporter, wall: WallStamp): CoreEventBody {
  const body: CoreEventBody = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: s.name, namespace: s.namespace },
    involvedObject: { ...s.ref },
    reason: s.reason,
    message: s.message,
    type: s.type,
    count: s.count,
    firstTimestamp: secondTime(wall(s.firstAt)),
    lastTimestamp: secondTime(wall(s.lastAt)),
    eventTime: microTime(wall(s.firstAt)),
    source: { component: reporter.component },
    reportingComponent: reporter.component,
    reportingInstance: reporter.instance,
    action: s.action,
  };
  if (s.related) body.related = { ...s.related };
  return body;
}

/** The merge patch of a count update: only what changed, so nothing immutable is touched. */
export function updatePatch(s: Series, wall: WallStamp): Record<string, unknown> {
  const patch: Record<string, unknown> = { count: s.count, lastTimestamp: secondTime(wall(s.lastAt)) };
  if (s.message !== s.serverMessage) patch.message = s.message;
  return patch;
}
