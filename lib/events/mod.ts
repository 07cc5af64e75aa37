/**
 * The event recorder: kopf's `event`, `info`, `warn` and `exception` for any object, written to
 * core/v1 Events with client-go-grade aggregation, budgets that lose no counts, validation the
 * API server never rejects, retries, and silent suppression of events about events.
 *
 * ```ts
 * const recorder = new EventRecorder(client, { component: "dataflow-controller" });
 * recorder.warn(dataflow, "ReconcileFailed", "ConfigMap could not be written");
 * await recorder.close({ timeoutMs: 5000 });
 * ```
 * @module
 */
export { EventRecorder } from "./recorder.ts";
export type {
  CloseOptions,
  CloseResult,
  EventFields,
  EventRecorderOptions,
  EventSink,
  EventTarget,
  EventType,
  ObjectReferenceLike,
} from "./types.ts";
export type { RecorderSettings, Reporter } from "./settings.ts";
export type { ConcurrencyBounds } from "./limiter.ts";
