/**
 * The event recorder: kopf-style calls in front, a coalescing, budgeted, retrying writer behind.
 */
import type { KubeClient } from "../kube/client.ts";
import type {
  CloseOptions,
  CloseResult,
  EventFields,
  EventRecorderOptions,
  EventSink,
  EventTarget,
} from "./types.ts";

/**
 * Records Kubernetes Events for any object, in the background. Construct one per process and
 * share it; hand it to the manager (`manager.addCloser(recorder)`) so pending counts are flushed
 * at shutdown.
 */
export class EventRecorder implements EventSink {
  /**
   * @param client the API client; its transport is reused, but retries are the recorder's own
   * @param options see {@link EventRecorderOptions}; throws a TypeError when `component` is not a qualified name
   */
  constructor(client: KubeClient, options: EventRecorderOptions) {
    void client;
    void options;
  }

  /** Records an event; returns at once and never throws. */
  event(obj: EventTarget, fields: EventFields): void {
    void obj;
    void fields;
  }

  /** Records a Normal event. */
  info(obj: EventTarget, reason: string, message: string): void {
    this.event(obj, { type: "Normal", reason, message });
  }

  /** Records a Warning event. */
  warn(obj: EventTarget, reason: string, message: string): void {
    this.event(obj, { type: "Warning", reason, message });
  }

  /** Records a Warning with the error's text appended to the message. */
  exception(obj: EventTarget, reason: string, message: string, error?: unknown): void {
    this.event(obj, { type: "Warning", reason, message: `${message} ${String(error ?? "")}`.trim() });
  }

  /** Stops accepting events and flushes pending creates and final counts within the deadline. */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    void options;
    return Promise.resolve({ flushed: 0, abandoned: 0 });
  }
}
