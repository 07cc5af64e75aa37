/** Options, handlers and counters of an Informer (informer.ts). */
import type { KubeObject } from "../kube/client.ts";
import type { Registry } from "../observe/metrics.ts";
import type { WatcherOptions, WatcherStats } from "./watcher-options.ts";

/**
 * Options of an Informer: those of its watcher (scope, paging, streaming list, watch timeouts,
 * backoff, clock; watcher-options.ts) and those of its cache.
 */
export interface InformerOptions extends WatcherOptions {
  /** Drop `metadata.managedFields` before caching (default true). */
  stripManagedFields?: boolean;
  /** Any other change to objects before they are cached (runs after managedFields stripping). */
  transform?: (obj: KubeObject) => KubeObject;
  /**
   * Deliver an update (old and new with the same resourceVersion) for every cached object this
   * often (at most once a second; 0 or unset: never); no API call.
   */
  resyncMs?: number;
  /** The informer counts as stale when it has had no working watch for this long (default 60 s). */
  staleAfterMs?: number;
  /** Where the informer's metrics go (default: the process registry). */
  registry?: Registry;
}

/** Event handlers of an informer; each is called with cached objects (never mutate them). */
export interface InformerHandlers<T> {
  /** `isInInitialList` is true for the objects of the first list, and for the cache contents replayed to a late handler. */
  add?(obj: T, isInInitialList?: boolean): void;
  /** Also called by resync, with `oldObj === newObj` resourceVersions. */
  update?(oldObj: T, newObj: T): void;
  /** The last known state of the object (for a relist-detected delete, the cached one). */
  delete?(obj: T): void;
}

/** The built-in index names: by namespace, and by controller owner (see {@link controllerIndexValue}). */
export type IndexName = "namespace" | "controller";

/** Counters of what an informer did (for tests and debugging): its watcher's, and its cache's. */
export interface InformerStats extends WatcherStats {
  /** Successful full lists (initial and relists) that replaced the cache. */
  relists: number;
}
