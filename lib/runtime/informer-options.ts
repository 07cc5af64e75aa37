/** Options, handlers and counters of an Informer (informer.ts). */
import type { KubeObject } from "../kube/client.ts";
import type { Registry } from "../observe/metrics.ts";
import type { Clock } from "../time/clock.ts";

/** Options of an Informer. */
export interface InformerOptions {
  /** Watch one namespace (default: all namespaces, or the cluster for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Cache PartialObjectMetadata only (metadata, no spec/status): for kinds whose bodies are not needed. */
  metadataOnly?: boolean;
  /** Drop `metadata.managedFields` before caching (default true). */
  stripManagedFields?: boolean;
  /** Any other change to objects before they are cached (runs after managedFields stripping). */
  transform?: (obj: KubeObject) => KubeObject;
  /** Deliver an update (old and new with the same resourceVersion) for every cached object this often; no API call. */
  resyncMs?: number;
  /** Name for logs, metrics and readiness checks (default: the kind, plus the namespace). */
  name?: string;
  /** Page size of the initial list (default 500). */
  pageSize?: number;
  /**
   * Fill the cache from a streaming list (`watch` with `sendInitialEvents=true`) instead of LIST
   * requests, continuing on the same stream (client-go's WatchList). Falls back to LIST when the
   * server refuses it. Default false.
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
   */
  idleTimeoutMs?: number;
  /** Backoff between failed list/watch attempts: 800 ms doubling to 30 s with jitter, reset after 2 min healthy. */
  backoff?: Partial<BackoffOptions>;
  /** The informer counts as stale when it has had no working watch for this long (default 60 s). */
  staleAfterMs?: number;
  clock?: Clock;
  /** Where the informer's metrics go (default: the process registry). */
  registry?: Registry;
}

/** Exponential backoff with jitter (client-go reflector defaults). */
export interface BackoffOptions {
  initialMs: number;
  factor: number;
  /** Adds up to `jitter × delay` at random. */
  jitter: number;
  maxMs: number;
  /** The backoff restarts from `initialMs` after this long without failures. */
  resetAfterMs: number;
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

/** Counters of what an informer did (for tests and debugging). */
export interface InformerStats {
  /** LIST requests sent (pages included). */
  lists: number;
  /** Successful full lists (initial and relists). */
  relists: number;
  /** WATCH requests started. */
  watches: number;
  /** Events received from watches (bookmarks included). */
  events: number;
  /** Failed list or watch attempts that were backed off. */
  failures: number;
  /** Watches that ended with 410 Expired/Gone (each followed by a relist). */
  expired: number;
}
