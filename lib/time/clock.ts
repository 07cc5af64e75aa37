/**
 * Time as the toolkit sees it. Every timer of the client, the queue, the informer, the leader
 * elector and the event recorder goes through a {@link Clock}, so tests drive hours of backoff,
 * resync and lease expiry in milliseconds with a `FakeClock` (fake-clock.ts) instead of sleeping.
 * Durations and deadlines are measured on the monotonic scale ({@link Clock.now}); wall time
 * ({@link Clock.wallNow}) only stamps what is written to the API, so a stepped system clock moves
 * no deadline.
 */

/** A handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

/** A monotonic clock with timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time; only differences mean anything). */
  now(): number;
  /** Wall-clock time, for timestamps written to the API (Lease renewTime). */
  wallNow(): Date;
  /** Runs `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts first. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(t);
      reject(signal!.reason);
    };
    const t = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Lets a host timer stop holding the process open, on Deno, Bun and Node. */
export function unrefTimer(handle: unknown): void {
  if (typeof handle === "object" && handle !== null && "unref" in handle) {
    (handle as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof handle === "number" && deno?.unrefTimer) deno.unrefTimer(handle);
}

/**
 * The longest delay one host timer holds: past 2^31 - 1 ms (about 24.8 days) Deno, Bun and Node
 * overflow it and fire after 1 ms, which would turn a long resync or timeout into a hot loop.
 */
const MAX_HOST_DELAY_MS = 2 ** 31 - 1;

function hostClock(unref: boolean): Clock {
  type HostHandle = ReturnType<typeof setTimeout>;
  const arm = (fn: () => void, ms: number): HostHandle => {
    const handle = setTimeout(fn, ms);
    if (unref) unrefTimer(handle);
    return handle;
  };
  // A longer delay is waited out in parts, one host timer at a time; its handle maps to the part
  // pending now. Infinity never fires (and, on the real clock, keeps the process alive, as any
  // pending timer does).
  const long = new WeakMap<object, { part: HostHandle }>();
  const clock: Clock = {
    now: () => performance.now(),
    wallNow: () => new Date(),
    setTimeout: (fn, ms) => {
      if (!(ms > MAX_HOST_DELAY_MS)) return arm(fn, Math.max(0, ms));
      const handle = Object.freeze({ id: 0 });
      let left = ms;
      const next = (): HostHandle => {
        const part = Math.min(left, MAX_HOST_DELAY_MS);
        left -= part;
        return arm(() => {
          if (left > 0) state.part = next();
          else fn();
        }, part);
      };
      const state = { part: next() };
      long.set(handle, state);
      return handle;
    },
    clearTimeout: (h) => {
      if (h === undefined) return;
      const parts = typeof h === "object" ? long.get(h) : undefined;
      clearTimeout(parts ? parts.part : h as HostHandle);
    },
    sleep: (ms, signal) => sleepOn(clock, ms, signal),
  };
  return clock;
}

/** The real clock: `performance.now()` and the host's timers, which keep the process alive while pending. */
export const realClock: Clock = hostClock(false);

/**
 * The real clock with timers that do not keep the process alive: for background work (the event
 * recorder's flushes, refills) that must never be the reason a finished program does not exit.
 */
export const backgroundClock: Clock = hostClock(true);

/** Waits on `clock`; resolves early when the signal aborts (never rejects). */
export function abortableDelay(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return clock.sleep(ms, signal).catch(() => {});
}

/**
 * An AbortSignal that aborts after `ms` on `clock` (a fake clock's too), or when `parent` aborts;
 * `dispose()` clears its timer once the guarded work is done.
 */
export function deadlineSignal(
  clock: Clock,
  ms: number,
  parent?: AbortSignal,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent!.reason);
  if (parent?.aborted) onParent();
  else parent?.addEventListener("abort", onParent, { once: true });
  const timer = clock.setTimeout(
    () => controller.abort(new DOMException(`deadline of ${ms} ms passed`, "TimeoutError")),
    ms,
  );
  return {
    signal: controller.signal,
    dispose() {
      clock.clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}
