/** The recorder's Prometheus metrics (reference §8 H38). */
import type { Counter, Gauge, Registry } from "../observe/metrics.ts";

/** Why an occurrence never reached the server. */
export type DropReason =
  | "event-for-event"
  | "invalid"
  | "closed"
  | "queue_full"
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
  "queue_full",
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
}

/**
 * Registers (or finds) the metrics in `registry`. Every series with known labels starts at 0 (as
 * controller-runtime's do), so `rate()`, dashboards and alerts see it before its first occurrence.
 */
export function eventMetrics(registry: Registry): EventMetrics {
  const m: EventMetrics = {
    emitted: registry.counter(
      "events_emitted_total",
      "Event occurrences recorded by callers, by type.",
      [
        "type",
      ],
    ),
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
    queueDepth: registry.gauge(
      "events_queue_depth",
      "Event series waiting for an API write.",
    ),
    series: registry.gauge(
      "events_series",
      "Event series remembered for coalescing.",
    ),
  };
  for (const type of ["Normal", "Warning"]) m.emitted.inc({ type }, 0);
  for (const verb of ["create", "patch"]) m.written.inc({ verb }, 0);
  m.coalesced.inc({}, 0);
  for (const reason of DROP_REASONS) m.dropped.inc({ reason }, 0);
  if (m.queueDepth.get() === undefined) m.queueDepth.set({}, 0);
  if (m.series.get() === undefined) m.series.set({}, 0);
  return m;
}
