/**
 * The work queue's metrics, with client-go's names and help texts (`workqueue_*`, labelled by the
 * queue's name and its controller), so existing dashboards read them unchanged.
 */
import { exponentialBuckets, type Registry } from "../observe/metrics.ts";

/** client-go's buckets: 10 ns to 1000 s, one per decade. */
const QUEUE_BUCKETS = exponentialBuckets(1e-8, 10, 12);

/** The `workqueue_*` series of one queue; `labels` are `name` and `controller`. */
export function queueMetrics(registry: Registry) {
  const labels = ["name", "controller"];
  return {
    depth: registry.gauge("workqueue_depth", "Current depth of workqueue", labels),
    adds: registry.counter("workqueue_adds_total", "Total number of adds handled by workqueue", labels),
    latency: registry.histogram(
      "workqueue_queue_duration_seconds",
      "How long in seconds an item stays in workqueue before being requested",
      labels,
      QUEUE_BUCKETS,
    ),
    work: registry.histogram(
      "workqueue_work_duration_seconds",
      "How long in seconds processing an item from workqueue takes.",
      labels,
      QUEUE_BUCKETS,
    ),
    unfinished: registry.gauge(
      "workqueue_unfinished_work_seconds",
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate " +
        "at which this increases.",
      labels,
    ),
    longest: registry.gauge(
      "workqueue_longest_running_processor_seconds",
      "How many seconds has the longest running processor for workqueue been running.",
      labels,
    ),
    retries: registry.counter(
      "workqueue_retries_total",
      "Total number of retries handled by workqueue",
      labels,
    ),
  };
}

/** What {@link queueMetrics} returns. */
export type QueueMetrics = ReturnType<typeof queueMetrics>;
