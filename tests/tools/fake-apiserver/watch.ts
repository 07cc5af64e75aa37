/**
 * The fake API server's watch streams: the change history a watch resumes from, compaction (a
 * watch from before it gets 410 Expired), and the faults of real streams (clean close, ERROR
 * event, stall, raw bytes).
 */
import type { KubeObject } from "../../../lib/kube/client.ts";
import type { ChangeType } from "./store.ts";

interface Change {
  rv: number;
  type: ChangeType;
  collection: string;
  object: KubeObject;
}

/** One open watch stream. */
interface OpenWatch {
  collection: string;
  filter: (o: KubeObject) => boolean;
  /** How this watch's API version shows a stored object. */
  view: (o: KubeObject) => KubeObject;
  controller: ReadableStreamDefaultController<Uint8Array>;
  stalled: boolean;
  closed: boolean;
}

/** What a new watch is opened on. */
export interface WatchSpec {
  collection: string;
  filter: (o: KubeObject) => boolean;
  view: (o: KubeObject) => KubeObject;
  signal?: AbortSignal;
}

const enc = new TextEncoder();

/** Expired Status of a watch that starts before the compacted history. */
export function expiredStatus(message: string): KubeObject {
  return {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code: 410,
    reason: "Expired",
    message,
  } as KubeObject;
}

/** The open watches and the history they resume from. */
export class WatchHub {
  #history: Change[] = [];
  #compactedRv = 0;
  #watches = new Set<OpenWatch>();

  /** The resourceVersion up to which history is forgotten. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  /** Open watch streams (not closed by either side). */
  get openCount(): number {
    return [...this.#watches].filter((w) => !w.closed).length;
  }

  /** Records a change and sends it to the watches it matches. */
  record(rv: number, type: ChangeType, collection: string, object: KubeObject): void {
    this.#history.push({ rv, type, collection, object });
    for (const w of this.#watches) {
      if (w.collection === collection && w.filter(object)) this.#send(w, { type, object: w.view(object) });
    }
  }

  /** Forgets history up to `rv`. */
  compact(rv: number): void {
    this.#compactedRv = rv;
    this.#history = [];
  }

  /**
   * Opens a stream. `initial` are sent first (a list's worth of ADDED, then `bookmark`), else the
   * changes after `from`; a `from` before the compacted history gets an ERROR 410 and the end.
   */
  open(
    spec: WatchSpec,
    from: number,
    initial?: { objects: KubeObject[]; bookmark?: unknown },
  ): ReadableStream<Uint8Array> {
    let w!: OpenWatch;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        w = { ...spec, controller, stalled: false, closed: false };
      },
      cancel: () => {
        w.closed = true;
        this.#watches.delete(w);
      },
    });
    spec.signal?.addEventListener("abort", () => this.#close(w, spec.signal?.reason), { once: true });
    if (from && from < this.#compactedRv) {
      queueMicrotask(() => {
        this.#send(w, {
          type: "ERROR",
          object: expiredStatus(`too old resource version: ${from} (${this.#compactedRv})`),
        });
        this.#close(w);
      });
      return body;
    }
    this.#watches.add(w);
    if (initial) {
      for (const o of initial.objects) this.#send(w, { type: "ADDED", object: w.view(o) });
      if (initial.bookmark) this.#send(w, initial.bookmark);
    } else {
      for (const c of this.#history) {
        if (c.rv > from && c.collection === spec.collection && spec.filter(c.object)) {
          this.#send(w, { type: c.type, object: w.view(c.object) });
        }
      }
    }
    return body;
  }

  /** Closes every open watch cleanly (as a server-side timeout does). */
  closeAll(): void {
    for (const w of this.#watches) this.#close(w);
  }

  /** Keeps watches open but sends nothing more on them (a half-open TCP connection). */
  stallAll(): void {
    for (const w of this.#watches) w.stalled = true;
  }

  /** Sends `event` on every open watch. */
  sendAll(event: unknown): void {
    for (const w of this.#watches) this.#send(w, event);
  }

  /** Sends an ERROR event on every open watch, then closes them. */
  errorAll(status: KubeObject): void {
    for (const w of this.#watches) {
      this.#send(w, { type: "ERROR", object: status });
      this.#close(w);
    }
  }

  /** Writes raw bytes to every open watch (to test event framing across chunks). */
  sendRaw(text: string): void {
    for (const w of this.#watches) if (!w.closed && !w.stalled) w.controller.enqueue(enc.encode(text));
  }

  #send(w: OpenWatch, ev: unknown): void {
    if (w.closed || w.stalled) return;
    try {
      w.controller.enqueue(enc.encode(JSON.stringify(ev) + "\n"));
    } catch {
      w.closed = true; // the reader went away between our check and the write
    }
  }

  #close(w: OpenWatch, reason?: unknown): void {
    if (w.closed) return;
    w.closed = true;
    this.#watches.delete(w);
    try {
      if (reason !== undefined) w.controller.error(reason);
      else w.controller.close();
    } catch { /* the stream already ended on the reader's side */ }
  }
}
