/**
 * Watch streams: newline-delimited JSON split into whole events across chunk boundaries, and the
 * idle watchdog that aborts a stream on which nothing (not even a bookmark) arrived for too long,
 * because a dead TCP connection otherwise hangs a fetch body forever on Deno. One watchdog guards
 * a stream: the runtime's watcher arms its own (before the request, on its clock) and turns the
 * one of {@link watchEvents} off.
 */
import type { Status } from "kubernetes-types/meta/v1";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { type ApiError, errorFromStatus } from "./errors.ts";

/** One event of a watch. ERROR events carry the Status and its typed error. */
export type WatchEvent<T> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  | { type: "BOOKMARK"; object: T }
  | { type: "ERROR"; object: Status; error: ApiError };

/** Raised when a watch stream stayed silent past its idle limit; resume from the last version. */
export class WatchIdleError extends Error {
  /** The silence that was too long, in ms. */
  readonly idleMs: number;

  /** The error for a stream that stayed silent for `idleMs`. */
  constructor(idleMs: number) {
    super(`watch stream was silent for ${idleMs} ms; the connection is presumed dead`);
    this.idleMs = idleMs;
    this.name = "WatchIdleError";
  }
}

/**
 * Aborts `controller` with {@link WatchIdleError} when {@link IdleWatchdog.arm} was not called
 * again within `idleMs`; an `idleMs` of 0 or less turns it off.
 */
export class IdleWatchdog {
  /** The longest silence allowed, in ms (0 or less: none). */
  readonly idleMs: number;
  readonly #controller: AbortController;
  readonly #clock: Clock;
  #timer?: TimerHandle;

  /**
   * A watchdog, not yet armed.
   * @param idleMs the longest silence allowed (0 or less: no watchdog)
   * @param controller aborted, with {@link WatchIdleError}, when the silence lasts longer
   * @param clock times the silence (default the real clock)
   */
  constructor(idleMs: number, controller: AbortController, clock: Clock = realClock) {
    this.idleMs = idleMs;
    this.#controller = controller;
    this.#clock = clock;
  }

  /** (Re)starts the countdown: something arrived. */
  arm(): void {
    this.#clock.clearTimeout(this.#timer);
    if (this.idleMs <= 0) return;
    this.#timer = this.#clock.setTimeout(
      () => this.#controller.abort(new WatchIdleError(this.idleMs)),
      this.idleMs,
    );
  }

  /** Stops the countdown. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Splits a byte stream into lines (handling `\r\n`, lines split over chunks, and a last line
 * without a newline). `onChunk` runs for every chunk (the watchdog's heartbeat).
 */
export async function* readLines(
  body: ReadableStream<Uint8Array>,
  onChunk: () => void = () => {},
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  // Cancelling the reader ends a pending read even when the body is not tied to the fetch's signal.
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  // A signal that aborted before reading began (while the response was on its way) fires no event.
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      onChunk();
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line.trim()) yield line;
      }
    }
    buffer += decoder.decode();
    if (buffer.trim()) yield buffer.replace(/\r$/, "");
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Turns a watch response body into typed events. The stream ends when the server closes it;
 * aborting `controller` ends it with the abort reason; silence longer than `idleMs` (timed on
 * `clock`; 0 turns it off) aborts it with {@link WatchIdleError}.
 */
export async function* watchEvents<T>(
  body: ReadableStream<Uint8Array>,
  controller: AbortController,
  idleMs: number,
  request: string,
  clock: Clock = realClock,
): AsyncGenerator<WatchEvent<T>> {
  const watchdog = new IdleWatchdog(idleMs, controller, clock);
  watchdog.arm();
  try {
    for await (const line of readLines(body, () => watchdog.arm(), controller.signal)) {
      let parsed: { type?: string; object?: unknown };
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new Error(`${request}: the watch stream sent a line that is not JSON: ${line.slice(0, 120)}`);
      }
      if (parsed.type === "ERROR") {
        const status = parsed.object as Status;
        yield { type: "ERROR", object: status, error: errorFromStatus(status, request) };
      } else if (
        parsed.type === "ADDED" || parsed.type === "MODIFIED" || parsed.type === "DELETED" ||
        parsed.type === "BOOKMARK"
      ) {
        yield { type: parsed.type, object: parsed.object as T };
      } else {
        throw new Error(`${request}: unknown watch event type ${JSON.stringify(parsed.type)}`);
      }
    }
    if (controller.signal.aborted) throw controller.signal.reason;
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason ?? err;
    throw err;
  } finally {
    watchdog.stop();
  }
}
