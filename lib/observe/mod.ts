/** Observability: structured logs and Prometheus metrics, used by every other layer. */
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./process-metrics.ts";
