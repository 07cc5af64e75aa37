/**
 * Retry middleware: sends a request again after a transient failure, as client-go's
 * `rest.Request` does. Reads (GET, not watch) are resent after any transient failure; writes only
 * when the server said it did not process them (429, or a 5xx with Retry-After), because a write
 * lost after it reached the server may have been applied. The wait is the server's Retry-After
 * when it sent one, else an exponential backoff (lib/time's {@link Backoff}).
 */
import { logger } from "../observe/log.ts";
import { Backoff, type Clock, jitter, realClock } from "../time/mod.ts";
import { type ApiError, isRetryable, ServerError, TooManyRequestsError } from "./errors.ts";
import { type KubeRequest, type Middleware, verbOf, wrapTransport } from "./transport.ts";

/** How requests are retried. */
export interface RetryPolicy {
  /** Attempts after the first (default 10, like client-go). */
  maxRetries: number;
  /** First backoff (default 200 ms), doubled per attempt, plus up to {@link RETRY_JITTER} of it at random. */
  baseDelayMs: number;
  /** Cap of one backoff before jitter (default 10 s); a longer Retry-After is still honoured up to 60 s. */
  maxDelayMs: number;
}

/** The default {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxRetries: 10,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

/** Share of a backoff added at random, so clients that failed together do not retry together. */
export const RETRY_JITTER = 0.5;

/** Longest wait honoured for a Retry-After. */
const MAX_RETRY_AFTER_MS = 60_000;

/** What the retry middleware reports before each wait. */
export interface RetryAttempt {
  /** The request that is sent again. */
  request: KubeRequest;
  /** The failure that is retried. */
  error: unknown;
  /** 1 for the first retry. */
  retry: number;
  /** How long it waits before sending. */
  waitMs: number;
}

/** Options of {@link retrying}. */
export interface RetryOptions {
  /** How often and how long (default {@link DEFAULT_RETRY_POLICY}). */
  policy?: Partial<RetryPolicy>;
  /** Times the waits (default: the real clock). */
  clock?: Clock;
  /** Waits between attempts (default `clock.sleep`); rejects when the request's signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The random source of the jitter, in [0, 1) (default Math.random). */
  random?: () => number;
  /** Called before each wait (metrics). */
  onRetry?: (attempt: RetryAttempt) => void;
}

const log = logger("kube", "client");

/** Whether a request may be sent twice with no other effect than once: reads, but not watches. */
function isIdempotent(req: KubeRequest): boolean {
  return req.method === "GET" && !req.stream;
}

/** Whether the server said it did not process the request: 429, or a 5xx that asked for a Retry-After. */
function refusedUnprocessed(err: unknown): boolean {
  return err instanceof TooManyRequestsError ||
    (err instanceof ServerError && err.retryAfterSeconds !== undefined);
}

/** Whether `err`, the outcome of `req`, is worth another attempt. */
function shouldRetry(req: KubeRequest, err: unknown): boolean {
  if (req.signal?.aborted || !isRetryable(err)) return false;
  return isIdempotent(req) || refusedUnprocessed(err);
}

/** Middleware that retries transient failures of the requests below it (see the module comment). */
export function retrying(options: RetryOptions = {}): Middleware {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const clock = options.clock ?? realClock;
  const sleep = options.sleep ?? ((ms: number, signal?: AbortSignal) => clock.sleep(ms, signal));
  return (next) =>
    wrapTransport(next, async (req) => {
      // One backoff per request: its delays grow only with this request's failures.
      const backoff = new Backoff({
        initialMs: policy.baseDelayMs,
        maxMs: policy.maxDelayMs,
        jitter: RETRY_JITTER,
        random: options.random,
      });
      for (let retry = 1;; retry++) {
        try {
          return await next.request(req);
        } catch (err) {
          if (retry > policy.maxRetries || !shouldRetry(req, err)) throw err;
          const backoffMs = backoff.next();
          // The server's Retry-After is what it asked for (plus a little jitter so clients spread out).
          const retryAfterMs = ((err as ApiError).retryAfterSeconds ?? 0) * 1000;
          const waitMs = retryAfterMs > 0
            ? Math.min(MAX_RETRY_AFTER_MS, jitter(retryAfterMs, 0.1, options.random))
            : backoffMs;
          options.onRetry?.({ request: req, error: err, retry, waitMs });
          log.debug("retrying {verb} {path} after {waitMs} ms: {error}", {
            verb: verbOf(req),
            path: req.path,
            waitMs: Math.round(waitMs),
            error: (err as Error).message,
          });
          await sleep(waitMs, req.signal);
        }
      }
    });
}
