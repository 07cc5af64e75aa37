/**
 * What a controller reads events from: the part of an informer it uses, as an interface, in the
 * spirit of controller-runtime's `source.Source` / `SyncingSource`. The `Informer` (informer.ts)
 * satisfies it; tests drive a controller with a hand-written source instead. The controller does not start
 * or stop sources: whoever owns them (the manager) does, so one informer can feed several
 * controllers.
 */
import type { ResourceType } from "../kube/resources.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";

/** The callbacks of {@link EventSource.on}; each is optional. */
export interface SourceHandlers<T> {
  /** An object appeared; `isInInitialList` is true for the first list and for a late handler's replay of the cache. */
  add?(obj: T, isInInitialList?: boolean): void;
  /** An object changed; a resync calls it with the same resourceVersion on both sides. */
  update?(oldObj: T, newObj: T): void;
  /** An object went away; `obj` is its last known state. */
  delete?(obj: T): void;
}

/** A cache of one kind of object that tells its subscribers about changes. */
export interface EventSource<T> {
  /** A name for logs and errors (the informer's name). */
  readonly name: string;
  /** The kind of object it holds (`for()` checks it, `owns()` reads the owner's scope from it). */
  readonly resourceType: ResourceType;
  /**
   * Subscribes; a handler registered after the initial list first receives the cached objects as
   * adds with `isInInitialList` true. Returns the unsubscribe.
   */
  on(handlers: SourceHandlers<T>): () => void;
  /** Whether the initial list has been delivered. */
  hasSynced(): boolean;
  /** Resolves once synced; rejects with the signal's reason when it aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  /** The cached objects. */
  list(): T[];
}

/** Sources did not sync within the cache-sync timeout: the controller's `start` fails with it. */
export class CacheSyncTimeoutError extends Error {
  /**
   * The error of a controller's wait.
   * @param controller the controller that waited
   * @param pending the names of the sources that had not synced
   * @param timeoutMs how long it waited
   */
  constructor(readonly controller: string, readonly pending: string[], readonly timeoutMs: number) {
    super(
      `controller ${controller}: failed to wait for caches to sync (${
        pending.join(", ")
      }) within ${timeoutMs} ms`,
    );
    this.name = "CacheSyncTimeoutError";
  }
}

/**
 * Waits until every source has synced. Rejects with a {@link CacheSyncTimeoutError} after
 * `timeoutMs` on `clock`; returns quietly when `signal` aborts first (the controller was stopped).
 */
export async function waitForSources(
  sources: readonly EventSource<unknown>[],
  options: { controller: string; timeoutMs: number; clock: Clock; signal: AbortSignal },
): Promise<void> {
  const { controller, timeoutMs, clock, signal } = options;
  const pending = sources.filter((s) => !s.hasSynced());
  if (!pending.length || signal.aborted) return;
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => {
      const names = pending.filter((s) => !s.hasSynced()).map((s) => s.name);
      reject(new CacheSyncTimeoutError(controller, names, timeoutMs));
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.all(pending.map((s) => s.waitForSync(ac.signal))), timeout]);
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    clock.clearTimeout(timer);
    ac.abort();
    signal.removeEventListener("abort", onAbort);
  }
}
