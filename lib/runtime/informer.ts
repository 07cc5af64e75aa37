/**
 * The informer: a list + watch cache of one resource type (client-go's Reflector + shared
 * informer, kube-rs's watcher + reflector). It lists in pages, watches from the list's
 * resourceVersion with bookmarks, resumes after clean closes without relisting, relists on 410
 * (delivering deletes for objects that vanished), detects silent streams, backs off with jitter,
 * keeps indexes, and tells handlers about adds, updates and deletes without ever blocking the stream.
 */
import type { KubeClient, KubeObject, ObjectList } from "../kube/client.ts";
import { ApiError, ConnectionError, GoneError, ServerError, TooManyRequestsError } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import { WatchIdleError } from "../kube/watch.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { jitter } from "../time/backoff.ts";
import { controllerIndexValue, controllerOf, objectKey } from "./keys.ts";
import type {
  BackoffOptions,
  IndexName,
  InformerHandlers,
  InformerOptions,
  InformerStats,
} from "./informer-options.ts";
import { collectIfGrown } from "./gc.ts";
import { IndexedStore } from "./store.ts";

export type * from "./informer-options.ts";

interface ListBase {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  metadataOnly?: boolean;
  signal: AbortSignal;
}

type WatchEnd = "closed" | "idle" | "expired" | "short" | "stopped";

/** Why the watch loop must relist: not recoverable by re-watching. */
class RelistNeeded extends Error {}

function isTooLargeRV(err: unknown): boolean {
  return err instanceof ApiError && /too large resource version/i.test(err.message);
}

const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 800,
  factor: 2,
  jitter: 1,
  maxMs: 30_000,
  resetAfterMs: 120_000,
};

/** A list + watch cache of one resource type. An informer runs once: after `stop()`, make a new one. */
export class Informer<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly resourceType: ResourceType;
  readonly client: KubeClient;
  readonly options: InformerOptions;
  /** What the informer did so far. */
  readonly stats: InformerStats = { lists: 0, relists: 0, watches: 0, events: 0, failures: 0, expired: 0 };
  #clock: Clock;
  #store: IndexedStore<T>;
  #handlers = new Set<InformerHandlers<T>>();
  #rv?: string;
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #run?: Promise<void>;
  #ac?: AbortController;
  #backoff: BackoffOptions;
  #failures = 0;
  #lastFailureAt = -Infinity;
  #unhealthySince?: number;
  #resyncTimer?: TimerHandle;
  #streamingUnsupported = false;
  #log;
  #metrics;

  constructor(client: KubeClient, rt: ResourceType, options: InformerOptions = {}) {
    this.client = client;
    this.resourceType = rt;
    this.options = options;
    this.name = options.name ?? (options.namespace ? `${rt.kind}/${options.namespace}` : rt.kind);
    this.#clock = options.clock ?? realClock;
    this.#store = new IndexedStore<T>(this.name);
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#log = logger("runtime", "informer").with({ informer: this.name });
    this.addIndex("namespace", (o) => [o.metadata?.namespace ?? ""]);
    this.addIndex("controller", (o) => {
      const ref = controllerOf(o);
      return ref ? [controllerIndexValue(ref.kind, o.metadata?.namespace, ref.name)] : [];
    });
    const registry = options.registry ?? defaultRegistry;
    this.#metrics = {
      lists: registry.counter(
        "informer_lists_total",
        "Full lists (initial and relists) done by an informer",
        ["name"],
      ),
      watches: registry.counter("informer_watches_total", "Watch requests started by an informer", ["name"]),
      failures: registry.counter("informer_failures_total", "Failed list or watch attempts of an informer", [
        "name",
      ]),
      objects: registry.gauge("informer_objects", "Objects in an informer's cache", ["name"]),
    };
  }

  /** Lists, then watches until stopped (or `signal` aborts); resolves when stopped. Errors are retried, never thrown. */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#run) return this.#run;
    const ac = this.#ac = new AbortController();
    if (signal) {
      if (signal.aborted) ac.abort(signal.reason);
      else signal.addEventListener("abort", () => ac.abort(signal.reason), { once: true });
    }
    this.#unhealthySince = this.#clock.now();
    this.#scheduleResync();
    this.#run = this.#loop(ac.signal).finally(() => {
      this.#clock.clearTimeout(this.#resyncTimer);
      this.#resyncTimer = undefined;
    });
    return this.#run;
  }

  /** Stops listing and watching; the cache keeps its contents. */
  stop(): void {
    this.#ac?.abort(new Error(`informer ${this.name} stopped`));
  }

  /** True once the first list is in the cache and its add events were delivered. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once synced; rejects when `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== done);
        reject(signal!.reason);
      };
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#syncWaiters.push(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** True when not synced, or when the informer has had no working watch for longer than `staleAfterMs`. */
  isStale(): boolean {
    if (!this.#synced) return true;
    const since = this.#unhealthySince;
    return since !== undefined && this.#clock.now() - since > (this.options.staleAfterMs ?? 60_000);
  }

  /** The cached object of a key ("namespace/name" or "name"). */
  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  /** Every cached object. */
  list(): T[] {
    return this.#store.values();
  }

  /** Every cached key. */
  keys(): string[] {
    return this.#store.keys();
  }

  /** Number of cached objects. */
  get size(): number {
    return this.#store.size;
  }

  /** Cached objects by index: `namespace` → namespace name; `controller` → `<ownerKind>/<namespace>/<ownerName>`. */
  byIndex(index: IndexName | string, value: string): T[] {
    return this.#store.byIndex(index, value);
  }

  /** Adds a custom index: `fn` returns the index values of an object. Existing objects are indexed at once. */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    this.#store.addIndex(name, fn);
  }

  /**
   * Registers handlers; when the cache is already filled, `add` is called for every cached
   * object first. Returns a function that unregisters them. A handler that throws is logged and
   * does not affect the others or the stream; async handlers are not awaited.
   */
  on(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    if (this.#synced) {
      for (const o of this.#store.values()) {
        this.#call(handlers, "add", o, undefined, true);
      }
    }
    return () => this.#handlers.delete(handlers);
  }

  /** The resourceVersion the next watch or relist resumes from. */
  get lastSyncResourceVersion(): string | undefined {
    return this.#rv;
  }

  // ---- the list/watch loop -------------------------------------------------------------

  async #loop(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      try {
        let end: WatchEnd;
        if (needList && this.options.streamingList && !this.#streamingUnsupported) {
          const replaced = this.stats.relists;
          end = await this.#watch(signal, true);
          // Still unfilled when the stream ended before its initial-events-end bookmark.
          needList = this.stats.relists === replaced;
        } else {
          if (needList) {
            await this.#list(signal);
            needList = false;
          }
          end = await this.#watch(signal);
        }
        if (end === "stopped") break;
        if (end === "expired") {
          this.stats.expired++;
          this.#log.info("watch of {informer} expired (410); relisting from {rv}", { rv: this.#rv });
          needList = true;
        }
        if (end === "short") {
          // Closed at once with nothing delivered: a hot loop in the making (client-go's VeryShortWatchError).
          await this.#failure(signal, new Error("the watch closed immediately with no events"), "rewatch");
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof RelistNeeded) {
          needList = true;
          continue;
        }
        if (err instanceof GoneError) {
          needList = true;
          await this.#failure(signal, err, "relist");
          continue;
        }
        // 429, 5xx and unreachable servers keep the state: re-watch (or retry the list) after backoff.
        const transient = err instanceof TooManyRequestsError || err instanceof ServerError ||
          err instanceof ConnectionError;
        if (!transient) needList = true;
        await this.#failure(signal, err, needList ? "relist" : "rewatch");
      }
    }
  }

  async #failure(signal: AbortSignal, err: unknown, next: string): Promise<void> {
    const now = this.#clock.now();
    this.#unhealthySince ??= now;
    this.stats.failures++;
    this.#metrics.failures.inc({ name: this.name });
    if (now - this.#lastFailureAt > this.#backoff.resetAfterMs) this.#failures = 0;
    const base = Math.min(
      this.#backoff.maxMs,
      this.#backoff.initialMs * this.#backoff.factor ** this.#failures,
    );
    let delay = jitter(base, this.#backoff.jitter);
    const retryAfter = (err as ApiError)?.retryAfterSeconds;
    if (err instanceof TooManyRequestsError && retryAfter !== undefined) {
      delay = Math.max(delay, retryAfter * 1000);
    }
    this.#failures++;
    this.#lastFailureAt = now;
    const message = err instanceof Error ? err.message : String(err);
    this.#log.warning("{informer}: {error}; {next} in {delayMs} ms", {
      error: message,
      next,
      delayMs: Math.round(delay),
    });
    await this.#clock.sleep(delay, signal).catch(() => {});
  }

  /** One full list; replaces the cache (synthesising deletes for vanished objects). */
  async #list(signal: AbortSignal): Promise<void> {
    const base: ListBase = {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
      metadataOnly: this.options.metadataOnly,
      signal,
    };
    /** The list's resourceVersion and its objects, prepared for the cache. */
    let listed: { rv?: string; items: T[] };
    if (this.#rv) {
      // Not older than what we saw, so a relist never goes back in time; unpaginated, served by the watch cache.
      try {
        this.stats.lists++;
        const list = await this.client.list<T>(this.resourceType, {
          ...base,
          resourceVersion: this.#rv,
          resourceVersionMatch: "NotOlderThan",
        });
        listed = { rv: list.metadata?.resourceVersion, items: list.items.map((o) => this.#prepare(o)) };
      } catch (err) {
        if (!(err instanceof GoneError) && !isTooLargeRV(err)) throw err;
        this.#log.info("relist of {informer} at {rv} is not possible ({error}); listing the latest state", {
          rv: this.#rv,
          error: (err as Error).message,
        });
        this.#rv = undefined;
        listed = await this.#pagedList(base);
      }
    } else {
      listed = await this.#pagedList(base);
    }
    if (!listed.rv) throw new Error(`list of ${this.name} returned no resourceVersion`);
    this.#replace(listed.items, listed.rv);
  }

  /**
   * A paginated list at the latest state, each page prepared for the cache as it arrives (so a
   * page's garbage, managedFields first, is freed before the next). A continue token that
   * expired (410 on page 2 or later) restarts the whole list, so pages of two snapshots never mix.
   */
  async #pagedList(base: ListBase): Promise<{ rv?: string; items: T[] }> {
    const limit = this.options.pageSize ?? 500;
    for (let restart = 0;; restart++) {
      const items: T[] = [];
      let cont: string | undefined;
      let rv: string | undefined;
      try {
        do {
          this.stats.lists++;
          const page: ObjectList<T> = await this.client.list<T>(this.resourceType, {
            ...base,
            limit,
            continue: cont,
          });
          rv ??= page.metadata?.resourceVersion;
          for (const o of page.items) items.push(this.#prepare(o));
          cont = page.metadata?.continue || undefined;
        } while (cont);
      } catch (err) {
        if (err instanceof GoneError && cont && restart < 3) {
          this.#log.info("list of {informer} expired while paging; restarting it", {});
          continue;
        }
        throw err;
      }
      return { rv, items };
    }
  }

  /** Replaces the cache with a full list's objects, already through {@link #prepare}. */
  #replace(prepared: T[], rv: string): void {
    const fresh = new Map<string, T>();
    for (const o of prepared) fresh.set(objectKey(o), o);
    const old = this.#store;
    const events: [keyof InformerHandlers<T>, T, T?][] = [];
    for (const [k, o] of fresh) {
      const prev = old.get(k);
      if (!prev) events.push(["add", o]);
      else if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) {
        events.push(["update", prev, o]);
      } else fresh.set(k, prev);
    }
    for (const [k, o] of old.entries()) if (!fresh.has(k)) events.push(["delete", o]);
    old.replace(fresh);
    this.#rv = rv;
    this.stats.relists++;
    this.#metrics.lists.inc({ name: this.name });
    this.#metrics.objects.set({ name: this.name }, fresh.size);
    this.#unhealthySince = undefined;
    this.#log.debug("listed {count} objects of {informer} at {rv}", { count: fresh.size, rv });
    const initial = !this.#synced;
    for (const [type, a, b] of events) this.#emit(type, a, b, initial);
    collectIfGrown();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  /**
   * One watch. With `initial`, it is a streaming list: events are collected until the bookmark
   * that marks the end of the initial state, the cache is replaced with them at once, and the
   * same stream then goes on as a normal watch.
   */
  async #watch(signal: AbortSignal, initial = false): Promise<WatchEnd> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const minTimeout = this.options.minWatchTimeoutSeconds ?? 240;
    const timeoutSeconds = Math.floor(minTimeout + Math.random() * Math.min(minTimeout, 50));
    const idleMs = this.options.idleTimeoutMs ?? 90_000;
    let idleTimer: TimerHandle | undefined;
    const arm = () => {
      this.#clock.clearTimeout(idleTimer);
      idleTimer = this.#clock.setTimeout(() => ac.abort(new WatchIdleError(idleMs)), idleMs);
    };
    const started = this.#clock.now();
    let received = 0;
    this.stats.watches++;
    this.#metrics.watches.inc({ name: this.name });
    arm();
    try {
      const stream = this.client.watch<T>(this.resourceType, {
        namespace: this.options.namespace,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
        metadataOnly: this.options.metadataOnly,
        resourceVersion: this.#rv ?? (initial ? "" : undefined),
        resourceVersionMatch: initial ? "NotOlderThan" : undefined,
        sendInitialEvents: initial ? true : undefined,
        allowWatchBookmarks: true,
        timeoutSeconds,
        // The informer's own watchdog (below) also covers a request that never gets headers.
        idleTimeoutMs: idleMs + 5_000,
        signal: ac.signal,
        onOpen: () => {
          this.#unhealthySince = undefined;
        },
      });
      let buffer = initial ? new Map<string, T>() : undefined;
      for await (const ev of stream) {
        arm();
        received++;
        this.stats.events++;
        if (ev.type === "ERROR") {
          if (ev.error instanceof GoneError) {
            if (buffer) this.#rv = undefined; // the requested RV is gone: stream the latest state instead
            return buffer ? "closed" : "expired";
          }
          if (buffer) return this.#streamingRefused(ev.error);
          throw ev.error;
        }
        const rv = (ev.object as KubeObject)?.metadata?.resourceVersion;
        if (ev.type === "BOOKMARK") {
          const end =
            (ev.object as KubeObject)?.metadata?.annotations?.["k8s.io/initial-events-end"] === "true";
          if (buffer && end && rv) {
            this.stats.lists++;
            this.#replace([...buffer.values()], rv);
            buffer = undefined;
          } else if (rv && !buffer) this.#rv = rv;
          continue;
        }
        if (buffer) {
          const key = objectKey(ev.object as KubeObject);
          if (ev.type === "DELETED") buffer.delete(key);
          else buffer.set(key, this.#prepare(ev.object));
          continue;
        }
        this.#apply(ev.type, ev.object);
        if (rv) this.#rv = rv;
      }
      if (signal.aborted) return "stopped";
      if (buffer) {
        // Closed before the initial state was complete: nothing was applied; stream again.
        return received === 0 && this.#clock.now() - started < 1000 ? "short" : "closed";
      }
      if (received === 0 && this.#clock.now() - started < 1000) return "short";
      this.#log.debug("watch of {informer} closed by the server; resuming from {rv}", { rv: this.#rv });
      return "closed";
    } catch (err) {
      if (signal.aborted) return "stopped";
      if (initial && !this.#synced && err instanceof ApiError && [400, 403, 422].includes(err.code)) {
        return this.#streamingRefused(err);
      }
      if (ac.signal.aborted && ac.signal.reason instanceof WatchIdleError || err instanceof WatchIdleError) {
        this.#log.info("watch of {informer} was silent for {idleMs} ms; resuming from {rv}", {
          idleMs,
          rv: this.#rv,
        });
        return "idle";
      }
      if (err instanceof GoneError) return "expired";
      if (err instanceof TypeError || (err as Error)?.name === "BodyTimeoutError") {
        // fetch reports a body cut mid-stream (e.g. undici's bodyTimeout) as a TypeError: reconnect cleanly.
        this.#log.info("watch of {informer} broke off ({error}); resuming from {rv}", {
          error: (err as Error).message,
          rv: this.#rv,
        });
        return received === 0 && this.#clock.now() - started < 1000 ? "short" : "closed";
      }
      throw err;
    } finally {
      this.#clock.clearTimeout(idleTimer);
      signal.removeEventListener("abort", onAbort);
      ac.abort();
    }
  }

  /** The server refused a streaming list (an old server, or the feature is off): use LIST from now on. */
  #streamingRefused(err: unknown): WatchEnd {
    this.#streamingUnsupported = true;
    this.#log.warning("{informer}: the server refused a streaming list ({error}); falling back to LIST", {
      error: (err as Error).message,
    });
    return "closed";
  }

  #apply(type: "ADDED" | "MODIFIED" | "DELETED", raw: T): void {
    const o = this.#prepare(raw);
    const key = objectKey(o);
    if (type === "DELETED") {
      const prev = this.#store.delete(key);
      this.#metrics.objects.set({ name: this.name }, this.#store.size);
      this.#emit("delete", prev ?? o);
      return;
    }
    const prev = this.#store.set(key, o);
    this.#metrics.objects.set({ name: this.name }, this.#store.size);
    if (prev) this.#emit("update", prev, o);
    else this.#emit("add", o);
  }

  #prepare(obj: T): T {
    if (this.options.stripManagedFields !== false && obj.metadata?.managedFields) {
      delete obj.metadata.managedFields;
    }
    if (this.options.metadataOnly || !obj.apiVersion || !obj.kind) {
      obj.apiVersion = this.resourceType.apiVersion;
      obj.kind = this.resourceType.kind;
    }
    return (this.options.transform ? this.options.transform(obj) : obj) as T;
  }

  #emit(type: keyof InformerHandlers<T>, a: T, b?: T, initial = false): void {
    for (const h of this.#handlers) this.#call(h, type, a, b, initial);
  }

  #call(h: InformerHandlers<T>, type: keyof InformerHandlers<T>, a: T, b?: T, initial = false): void {
    try {
      const r: unknown = type === "update"
        ? h.update?.(a, b!)
        : type === "add"
        ? h.add?.(a, initial)
        : h.delete?.(a);
      if (r instanceof Promise) r.catch((err) => this.#handlerError(type, err));
    } catch (err) {
      this.#handlerError(type, err);
    }
  }

  #handlerError(type: string, err: unknown): void {
    this.#log.error("{informer}: a {type} handler threw: {error}", {
      type,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  #scheduleResync(): void {
    const every = this.options.resyncMs;
    if (!every || every <= 0) return;
    this.#resyncTimer = this.#clock.setTimeout(() => {
      if (this.#ac?.signal.aborted) return;
      if (this.#synced) { for (const o of this.#store.values()) this.#emit("update", o, o); }
      this.#scheduleResync();
    }, Math.max(1000, every));
  }
}
