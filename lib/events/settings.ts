/**
 * The recorder's settings: {@link EventRecorderOptions} after defaults and limits, and the
 * reporting identity written on every Event. The correlator, the send queue and the writer read
 * these; none of them reads the options.
 */
import { hostname } from "node:os";
import process from "node:process";
import type { ConcurrencyBounds } from "./limiter.ts";
import { isQualifiedName, normalizeInstance } from "./normalize.ts";
import type { Budget, EventRecorderOptions } from "./types.ts";

/** The options after defaults; every duration is in milliseconds. */
export interface RecorderSettings {
  /** Minimum time between two writes of one series. */
  updateIntervalMs: number;
  /** How long an idle series is remembered, and distinct messages are counted. */
  dedupWindowMs: number;
  /** Distinct messages per (object, type, reason, action, related) before folding. */
  maxDistinctMessages: number;
  /** Series remembered for coalescing at most. */
  maxSeries: number;
  /** Series waiting for a write at most (overflow Events aside). */
  maxQueue: number;
  /** The per (object, reason) API-call budget. */
  objectBudget: Budget;
  /** The bounds of the adaptive write window. */
  concurrency: ConcurrencyBounds;
  /** While the owner is busy, how old a burst's events get before they are written (0: never held). */
  busyHoldMs: number;
  /** First retry backoff (full jitter, doubling). */
  retryBaseMs: number;
  /** Cap of one retry backoff. */
  retryMaxDelayMs: number;
  /** Give up on a write after retrying this long. */
  retryTotalMs: number;
  /** Deadline of one API request. */
  requestTimeoutMs: number;
  /** Keep newlines in messages. */
  keepNewlines: boolean;
  /** Namespace of events about cluster-scoped objects. */
  clusterNamespace: "default" | "kube-system";
}

/** The defaults of {@link RecorderSettings} (what the options' documentation promises). */
export const DEFAULT_SETTINGS: Readonly<RecorderSettings> = Object.freeze({
  updateIntervalMs: 30_000,
  dedupWindowMs: 600_000,
  maxDistinctMessages: 10,
  maxSeries: 4096,
  maxQueue: 10_000,
  objectBudget: { burst: 25, refillMs: 30_000 },
  concurrency: { min: 1, initial: 4, max: 32 },
  busyHoldMs: 8000,
  retryBaseMs: 500,
  retryMaxDelayMs: 30_000,
  retryTotalMs: 300_000,
  requestTimeoutMs: 10_000,
  keepNewlines: false,
  clusterNamespace: "default",
});

/**
 * Applies the defaults to `options`; throws a TypeError naming the option when a number is out of
 * its range (a `maxQueue` of 0 would send every occurrence to overflow Events, a budget `burst`
 * of 0 would write nothing until close), rather than run on a setting that cannot work.
 */
export function resolveSettings(options: EventRecorderOptions): RecorderSettings {
  const d = DEFAULT_SETTINGS;
  const budget = options.objectBudget ?? d.objectBudget;
  const retryBaseMs = setting("retryBaseMs", options.retryBaseMs, d.retryBaseMs, 1);
  return {
    updateIntervalMs: setting("updateIntervalMs", options.updateIntervalMs, d.updateIntervalMs, 0),
    dedupWindowMs: setting("dedupWindowMs", options.dedupWindowMs, d.dedupWindowMs, 1),
    maxDistinctMessages: setting(
      "maxDistinctMessages",
      options.maxDistinctMessages,
      d.maxDistinctMessages,
      1,
      true,
    ),
    maxSeries: setting("maxSeries", options.maxSeries, d.maxSeries, 1, true),
    maxQueue: setting("maxQueue", options.maxQueue, d.maxQueue, 1, true),
    objectBudget: {
      burst: setting("objectBudget.burst", budget.burst, d.objectBudget.burst, 1, true),
      refillMs: setting("objectBudget.refillMs", budget.refillMs, d.objectBudget.refillMs, 1),
    },
    concurrency: concurrencyBounds(options.concurrency),
    busyHoldMs: Math.max(0, Number(options.busyHoldMs ?? d.busyHoldMs) || 0),
    retryBaseMs,
    retryMaxDelayMs: setting("retryMaxDelayMs", options.retryMaxDelayMs, d.retryMaxDelayMs, retryBaseMs),
    retryTotalMs: setting("retryTotalMs", options.retryTotalMs, d.retryTotalMs, 0),
    requestTimeoutMs: setting("requestTimeoutMs", options.requestTimeoutMs, d.requestTimeoutMs, 1),
    keepNewlines: options.keepNewlines ?? d.keepNewlines,
    clusterNamespace: options.clusterNamespace === "kube-system" ? "kube-system" : "default",
  };
}

/** `value` (or `fallback` when unset), checked to be a number of at least `min` (and whole). */
function setting(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  whole = false,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || Number.isNaN(value) || value < min || (whole && !Number.isInteger(value))
  ) {
    const shown = typeof value === "number" ? String(value) : JSON.stringify(value);
    throw new TypeError(
      `EventRecorder: ${name} is ${shown}; it must be ${whole ? "a whole number" : "a number"} ` +
        `of at least ${min}`,
    );
  }
  return value;
}

/** The concurrency option after defaults: a number fixes the window, an object bounds the adaptive one. */
export function concurrencyBounds(option: EventRecorderOptions["concurrency"]): ConcurrencyBounds {
  const d = DEFAULT_SETTINGS.concurrency;
  const int = (v: unknown, fallback: number) =>
    typeof v === "number" && Number.isFinite(v) && v >= 1 ? Math.floor(v) : fallback;
  if (typeof option === "number") {
    const n = int(option, d.initial);
    return { min: n, initial: n, max: n };
  }
  const min = int(option?.min, d.min);
  const max = Math.max(min, int(option?.max, d.max));
  const initial = Math.min(max, Math.max(min, int(option?.initial, d.initial)));
  return { min, initial, max };
}

/** The reporting identity put on every Event (`source.component`, `reportingComponent`, `reportingInstance`). */
export interface Reporter {
  /** `source.component` and `reportingComponent`. */
  component: string;
  /** `reportingInstance`. */
  instance: string;
}

/**
 * The reporting identity of `options`; throws a TypeError when the component is not a qualified
 * name, the one mistake the API server would refuse on every write.
 */
export function reporterOf(options: EventRecorderOptions): Reporter {
  if (typeof options?.component !== "string" || !isQualifiedName(options.component)) {
    throw new TypeError(
      `EventRecorder: component ${JSON.stringify(options?.component)} is not a Kubernetes qualified name ` +
        "([prefix/]name, name 1-63 characters of A-Z a-z 0-9 - _ .)",
    );
  }
  const component = options.component;
  return {
    component,
    instance: normalizeInstance(options.instance ?? defaultInstance(component), component),
  };
}

/** `$POD_NAME` (set from the downward API), then `$HOSTNAME`, then the host name, then the component. */
function defaultInstance(component: string): string {
  let host = process.env.POD_NAME || process.env.HOSTNAME || "";
  if (!host) {
    try {
      host = hostname();
    } catch { /* no permission to read the host name: fall back to the component */ }
  }
  return normalizeInstance(host, component);
}
