/** The recorder's Prometheus metrics (listed in docs/behaviour/events.md, "Observability"). */
import type { Counter, Gauge, Histogram, Registry } from "../observe/metrics.ts";
import type { BackoffCause } from "./limiter.ts";

/** Why an occurrence never reached the server. */
export type DropReason =
  | "event-for-event"
  | "invalid"
  | "closed"
  | "retry_exhausted"
  | "forbidden"
  | "namespace_terminating"
  | "namespace_missing"
  | "rejected"
  | "abandoned"
  | "internal";

/** Every {@link DropReason}, for the series that start at 0. */
export const DROP_REASONS: readonly DropReason[] = [
  "event-for-event",
  "invalid",
  "closed",
  "retry_exhausted",
  "forbidden",
  "namespace_terminating",
  "namespace_missing",
  "rejected",
  "abandoned",
  "internal",
];

/** Handles of every recorder metric. */
export interface EventMetrics {
  emitted: Counter;
  written: Counter;
  coalesced: Counter;
  dropped: Counter;
  apiErrors: Counter;
  queueDepth: Gauge;
  series: Gauge;
  overflow: Counter;
  concurrency: Gauge;
  inFlight: Gauge;
  yielding: Gauge;
  held: Gauge;
  backoffs: Counter;
  pausedSeconds: Counter;
  baseline: Gauge;
  deliveryLag: Histogram;
}

/** Every {@link BackoffCause}, for the series that start at 0. */
const BACKOFF_CAUSES: readonly BackoffCause[] = ["throttled", "server_error", "latency"];

/** Buckets of `events_delivery_lag_seconds`: 10 ms to 5 minutes. */
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

/**
 * Registers (or finds) the metrics in `registry`. Every series with known labels starts at 0 (as
 * controller-runtime's do), so `rate()`, dashboards and alerts see it before its first occurrence.
 */
export function eventMetrics(registry: Registry): EventMetrics {
  const m: EventMetrics = {
    emitted: registry.counter("events_emitted_total", "Event occurrences recorded by callers, by type.", [
      "type",
    ]),
    written: registry.counter(
      "events_written_total",
      "Successful Event API writes, by verb (create, patch).",
      [
        "verb",
      ],
    ),
    coalesced: registry.counter(
      "events_coalesced_total",
      "Occurrences counted into an existing Event instead of creating a new one.",
    ),
    dropped: registry.counter(
      "events_dropped_total",
      "Occurrences that will never reach the API server, by reason.",
      [
        "reason",
      ],
    ),
    apiErrors: registry.counter(
      "events_api_errors_total",
      "Failed Event API calls, by HTTP code (0: no response).",
      [
        "code",
      ],
    ),
    queueDepth: registry.gauge("events_queue_depth", "Event series waiting for an API write."),
    series: registry.gauge("events_series", "Event series remembered for coalescing."),
    overflow: registry.counter(
      "events_overflow_coalesced_total",
      "Occurrences whose own Event text was given up because the write queue was full; their count is " +
        "carried by an overflow Event per (namespace, type, reason), so no count is lost.",
      ["type"],
    ),
    concurrency: registry.gauge(
      "events_write_concurrency",
      "The adaptive limit on concurrent Event writes (AIMD window; the floor applies while the owner is busy).",
    ),
    inFlight: registry.gauge("events_writes_in_flight", "Event writes in flight."),
    yielding: registry.gauge(
      "events_write_yielding",
      "1 while the owner's busy signal holds Event writes back (at the floor, or a burst held) so its own writes go first.",
    ),
    held: registry.gauge(
      "events_write_held",
      "Event series of a burst held back while the owner's writes wait (at most busyHoldMs after emission).",
    ),
    backoffs: registry.counter(
      "events_write_backoffs_total",
      "Times the write window was halved, by cause (throttled: 429, server_error: 5xx or no answer, latency).",
      ["cause"],
    ),
    pausedSeconds: registry.counter(
      "events_write_paused_seconds_total",
      "Time Event writes were paused because the API server sent Retry-After.",
    ),
    baseline: registry.gauge(
      "events_write_latency_baseline_seconds",
      "The best recent Event write latency, against which rising latency is judged.",
    ),
    deliveryLag: registry.histogram(
      "events_delivery_lag_seconds",
      "Per successful Event write: time from the oldest occurrence it carried being emitted to the write's answer.",
      [],
      LAG_BUCKETS,
    ),
  };
  for (const type of ["Normal", "Warning"]) m.emitted.inc({ type }, 0);
  for (const verb of ["create", "patch"]) m.written.inc({ verb }, 0);
  m.coalesced.inc({}, 0);
  for (const reason of DROP_REASONS) m.dropped.inc({ reason }, 0);
  if (m.queueDepth.get() === undefined) m.queueDepth.set({}, 0);
  if (m.series.get() === undefined) m.series.set({}, 0);
  for (const type of ["Normal", "Warning"]) m.overflow.inc({ type }, 0);
  for (const cause of BACKOFF_CAUSES) m.backoffs.inc({ cause }, 0);
  m.pausedSeconds.inc({}, 0);
  if (m.inFlight.get() === undefined) m.inFlight.set({}, 0);
  if (m.yielding.get() === undefined) m.yielding.set({}, 0);
  if (m.held.get() === undefined) m.held.set({}, 0);
  return m;
}
