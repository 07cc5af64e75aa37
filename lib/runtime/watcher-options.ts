/** The steps a {@link Watcher} (watcher.ts) yields, its options, observer and counters. */
import type { Clock } from "../time/clock.ts";
import type { BackoffOptions } from "../time/backoff.ts";

/**
 * One step of the list/watch protocol, as kube-rs's `watcher::Event`:
 * - `init`: a (re)list starts; `initApply` steps follow with the complete state;
 * - `initApply`: one object of that state (from a list page or a streaming list's initial events);
 * - `initDone`: the state is complete; anything held before and not listed since is gone;
 * - `apply`: an object was added or modified on the watch;
 * - `delete`: an object was deleted (its last state).
 * A relist can start over at any time (a new `init` before `initDone`): drop what the unfinished
 * one delivered.
 */
export type WatcherStep<T> =
  | { type: "init" }
  | { type: "initApply"; object: T }
  | { type: "initDone"; resourceVersion: string }
  | { type: "apply"; object: T }
  | { type: "delete"; object: T };

/** Options of a Watcher. */
export interface WatcherOptions {
  /** Watch one namespace (default: all namespaces, or the cluster for cluster-scoped kinds). */
  namespace?: string;
  /** Only objects with these labels (`k=v,k2!=v2`, as the API takes it). */
  labelSelector?: string;
  /** Only objects whose fields match (`metadata.name=x`, as the API takes it). */
  fieldSelector?: string;
  /** Ask for PartialObjectMetadata only (metadata, no spec/status). */
  metadataOnly?: boolean;
  /** Name for logs (and, in an informer, metrics and readiness checks). */
  name?: string;
  /** Page size of a full list (default 500). */
  pageSize?: number;
  /**
   * Get the initial state from a streaming list (`watch` with `sendInitialEvents=true`) instead of
   * LIST requests, continuing on the same stream (client-go's WatchList). Falls back to LIST when
   * the server refuses it. Default false.
   */
  streamingList?: boolean;
  /**
   * The server-side watch timeout is drawn from [min, min + min(min, 50)) seconds (default
   * [240, 290) s: randomised to spread reconnects, and below the 300 s body timeout of undici and Bun).
   */
  minWatchTimeoutSeconds?: number;
  /**
   * Abort and resume a watch on which nothing arrived (not even a bookmark, which the API server
   * sends about every minute) for this long, including a request that never got headers (default 90 s).
   * This is the only idle watchdog on the stream.
   */
  idleTimeoutMs?: number;
  /**
   * Backoff between failed list/watch attempts: 800 ms doubling to 30 s with up to 100 % jitter,
   * starting over after 2 min without failures. The clock defaults to the watcher's.
   */
  backoff?: Partial<BackoffOptions>;
  /** Times the backoff, the idle watchdog and very short watches (default: the real clock). */
  clock?: Clock;
}

/** What an owner of a watcher (an informer's metrics) learns besides the steps. */
export interface WatcherObserver {
  /** A watch request is being sent. */
  watchStarted?(): void;
  /** A list or watch attempt failed and will be retried after a backoff. */
  failed?(error: unknown): void;
}

/** Counters of what a watcher did (for tests and debugging). */
export interface WatcherStats {
  /** LIST requests sent (pages included; a streaming list counts once). */
  lists: number;
  /** WATCH requests started. */
  watches: number;
  /** Events received from watches (bookmarks included). */
  events: number;
  /** Failed list or watch attempts that were backed off. */
  failures: number;
  /** Watches that ended with 410 Expired/Gone (each followed by a relist). */
  expired: number;
}
