/**
 * The controller's metrics, with controller-runtime's names and help texts, every series of a
 * controller created at zero so dashboards and alerts see it before the first reconcile.
 */
import { DEFAULT_BUCKETS, type Registry } from "../observe/metrics.ts";

/** The results of `controller_runtime_reconcile_total`. */
export type ReconcileOutcome = "success" | "error" | "requeue" | "requeue_after";

/** The `controller_runtime_*` series of one controller, pre-initialised. */
export function controllerMetrics(registry: Registry, controller: string, concurrency: number) {
  const c = ["controller"];
  const m = {
    total: registry.counter(
      "controller_runtime_reconcile_total",
      "Total number of reconciliations per controller",
      ["controller", "result"],
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
  const l = { controller };
  const outcomes: ReconcileOutcome[] = ["success", "error", "requeue", "requeue_after"];
  for (const result of outcomes) m.total.inc({ ...l, result }, 0);
  for (const counter of [m.errors, m.terminal, m.panics, m.timeouts]) counter.inc(l, 0);
  m.maxConcurrent.set(l, concurrency);
  m.active.set(l, 0);
  return m;
}

/** What {@link controllerMetrics} returns. */
export type ControllerMetrics = ReturnType<typeof controllerMetrics>;
