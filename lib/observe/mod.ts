/**
 * Observability for every layer: structured logs (LogTape), a Prometheus metrics registry with
 * process metrics, and the health and metrics HTTP server.
 * @module
 */
export {
  configureLogging,
  DEFAULT_ROOT_CATEGORY,
  type LogFormat,
  type Logger,
  logger,
  type LoggingOptions,
  type LogLevel,
  type LogProperties,
  toLogFormat,
  toLogLevel,
} from "./log.ts";
export {
  Counter,
  DEFAULT_BUCKETS,
  defaultRegistry,
  exponentialBuckets,
  Gauge,
  Histogram,
  type Labels,
  Metric,
  Registry,
} from "./metrics.ts";
export { type ProcessMetricsOptions, registerProcessMetrics } from "./process-metrics.ts";
export {
  type CheckLogLevel,
  type CheckResult,
  type HealthCheck,
  HealthChecks,
  isDisabledAddress,
  type ObserveServer,
  type ObserveServerOptions,
  parseBindAddress,
  type StartedServer,
  startObserveServer,
  startServer,
} from "./http.ts";
