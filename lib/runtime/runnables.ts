/**
 * The parts of an operator as {@link Runnable}s: a cache (an informer), a controller, and
 * anything that flushes on `close()` (the event recorder). Each is described by the members the
 * manager uses, not by its class, so the manager depends on none of them and the runtime never
 * imports the events module.
 */
import type { Runnable } from "./runnable.ts";

/** A cache the manager runs on every replica (an `Informer` fits). */
export interface ManagedCache {
  /** The cache's name (an informer's name). */
  readonly name: string;
  /** Lists and watches until `signal` aborts; resolves when stopped. */
  start(signal?: AbortSignal): Promise<void>;
  /** True once the first list is in the cache. */
  hasSynced(): boolean;
  /** True when not synced, or without a working watch for too long. */
  isStale(): boolean;
}

/** A controller the manager runs while leading (a `Controller` fits). */
export interface ManagedController {
  /** The controller's name. */
  readonly name: string;
  /**
   * The event sources it reads. The controller does not run them: the manager runs, on every
   * replica, those that are caches (see {@link isManagedCache}); any other source is its owner's to run.
   */
  readonly informers: readonly object[];
  /** Waits for its caches, then runs its workers until stopped; aborting `signal` stops it at once. */
  start(signal?: AbortSignal): Promise<void>;
  /** Graceful stop: no new keys, in-flight reconciles finish within `timeoutMs`; false when they did not. */
  stop(options: { timeoutMs?: number }): Promise<boolean>;
}

/** Anything the manager flushes at shutdown (after controllers drained, before the lease is released). */
export interface Closer {
  /** Flushes and stops; the resolved value (e.g. a flush report) is ignored. */
  close(options?: { timeoutMs?: number }): Promise<unknown>;
}

/** Whether `source` is a cache the manager can run: it has `start`, `hasSynced` and `isStale`. */
export function isManagedCache(source: object): source is ManagedCache {
  const s = source as Partial<Record<keyof ManagedCache, unknown>>;
  return typeof s.start === "function" && typeof s.hasSynced === "function" &&
    typeof s.isStale === "function" &&
    typeof s.name === "string";
}

/** A cache as a runnable on every replica, ready once synced and while its watch is not stale. */
export function cacheRunnable(cache: ManagedCache): Runnable {
  return {
    name: `informer ${cache.name}`,
    start: (signal) => cache.start(signal),
    ready: () => {
      if (!cache.hasSynced()) return "not synced yet";
      if (cache.isStale()) return "watch is stale";
      return true;
    },
  };
}

/** A controller as a leader-only runnable: `stop` drains its in-flight reconciles. */
export function controllerRunnable(controller: ManagedController): Runnable {
  return {
    name: `controller ${controller.name}`,
    leaderOnly: true,
    start: (signal) => controller.start(signal),
    stop: (options) => controller.stop(options),
  };
}

/**
 * A closer as a runnable on every replica: it has nothing to run, and its graceful stop is
 * `close()`. An abort (lost leadership) skips the flush: the process exits at once.
 */
export function closerRunnable(closer: Closer, name: string): Runnable {
  return {
    name,
    start: (signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      }),
    stop: async (options) => {
      await closer.close(options);
    },
  };
}
