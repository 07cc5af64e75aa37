/**
 * The client's metrics under client-go's names (`rest_client_*`), so dashboards built for Go
 * operators work unchanged, and the middleware that records them for every attempt that goes out
 * (a retried request counts once per attempt, as in client-go). It also logs each write at debug
 * level: verb, path, status and duration, never a body.
 */
import { logger } from "../observe/log.ts";
import { type Counter, defaultRegistry, type Histogram, type Registry } from "../observe/metrics.ts";
import { type Clock, realClock } from "../time/mod.ts";
import { ApiError } from "./errors.ts";
import type { RetryAttempt } from "./retry.ts";
import { type Middleware, verbOf, wrapTransport } from "./transport.ts";

const log = logger("kube", "client");

/** The `code` label of a request that got no HTTP status (no answer, refused before sending). */
export const NO_STATUS_CODE = "<error>";

/** The `rest_client_*` metrics of one server. */
export class ClientMetrics {
  readonly requests: Counter;
  readonly retries: Counter;
  readonly duration: Histogram;
  /** The `host` label: the server without its scheme. */
  readonly host: string;

  constructor(server: string, registry: Registry = defaultRegistry) {
    this.host = server.replace(/^https?:\/\//, "");
    this.requests = registry.counter(
      "rest_client_requests_total",
      "Number of HTTP requests, partitioned by status code, method, and host.",
      ["code", "method", "host"],
    );
    this.retries = registry.counter(
      "rest_client_request_retries_total",
      "Number of request retries, partitioned by status code, verb, and host.",
      ["code", "verb", "host"],
    );
    this.duration = registry.histogram(
      "rest_client_request_duration_seconds",
      "Request latency in seconds. Broken down by verb and host.",
      ["verb", "host"],
    );
  }

  /** Counts a retry (the retry middleware's `onRetry`). */
  retried(attempt: RetryAttempt): void {
    const err = attempt.error;
    const code = err instanceof ApiError && err.code > 0 ? String(err.code) : NO_STATUS_CODE;
    this.retries.inc({ code, verb: verbOf(attempt.request), host: this.host });
  }
}

/** Middleware that counts and times each request passing through it. */
export function measured(metrics: ClientMetrics, clock: Clock = realClock): Middleware {
  return (next) =>
    wrapTransport(next, async (req) => {
      const started = clock.now();
      let code = NO_STATUS_CODE;
      try {
        const res = await next.request(req);
        code = String(res.status);
        return res;
      } finally {
        const seconds = (clock.now() - started) / 1000;
        const verb = verbOf(req);
        metrics.requests.inc({ code, method: req.method, host: metrics.host });
        metrics.duration.observe({ verb, host: metrics.host }, seconds);
        if (req.method !== "GET") {
          log.debug("API write {verb} {path} -> {code} in {durationMs} ms", {
            verb,
            path: req.path,
            code,
            durationMs: Math.round(seconds * 1000),
          });
        }
      }
    });
}
