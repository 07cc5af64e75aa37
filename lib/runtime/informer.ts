/**
 * The informer: a cache of one resource type kept by a {@link Watcher} (kube-rs's reflector and
 * store, client-go's shared informer). The watcher speaks the list/watch protocol; the informer
 * turns its steps into the cache (objects prepared as they arrive, indexes kept in step), tells
 * handlers about adds, updates and deletes without ever blocking the stream, resyncs, and says
 * whether it is synced and fresh.
 */
import type { KubeClient, KubeObject } from "../kube/client.ts";
import type { ResourceType } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import { type Clock, realClock, type TimerHandle } from "../time/clock.ts";
import { controllerIndexValue, controllerOf, objectKey } from "./keys.ts";
import type { IndexName, InformerHandlers, InformerOptions, InformerStats } from "./informer-options.ts";
import { collectIfGrown } from "./gc.ts";
import { IndexedStore } from "./store.ts";
import { Watcher } from "./watcher.ts";
import type { WatcherStep } from "./watcher-options.ts";

export type * from "./informer-options.ts";

type HandlerType = keyof InformerHandlers<unknown>;

/** A list + watch cache of one resource type. An informer runs once: after `stop()`, make a new one. */
export class Informer<T extends KubeObject = KubeObject> {
  /** For logs, metrics (`name` label) and readiness checks: the option, else the kind (and namespace). */
  readonly name: string;
  /** The resource type cached. */
  readonly resourceType: ResourceType;
  /** The client the watcher lists and watches through. */
  readonly client: KubeClient;
  /** The options it was made with. */
  readonly options: InformerOptions;
  #clock: Clock;
  #watcher: Watcher<T>;
  #store: IndexedStore<T>;
  #handlers = new Set<InformerHandlers<T>>();
  #relists = 0;
  /** The objects of a list in progress (between the watcher's `init` and `initDone`). */
  #listing?: Map<string, T>;
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #run?: Promise<void>;
  #ac?: AbortController;
  #resyncTimer?: TimerHandle;
  #log;
  #metrics;

  /** Builds the informer; nothing is requested before {@link Informer.start}. */
  constructor(client: KubeClient, rt: ResourceType, options: InformerOptions = {}) {
    this.client = client;
    this.resourceType = rt;
    this.options = options;
    this.name = options.name ?? (options.namespace ? `${rt.kind}/${options.namespace}` : rt.kind);
    this.#clock = options.clock ?? realClock;
    this.#store = new IndexedStore<T>(this.name);
    this.#log = logger("runtime", "informer").with({ informer: this.name });
    this.addIndex("namespace", (o) => [o.metadata?.namespace ?? ""]);
    this.addIndex("controller", (o) => {
      const ref = controllerOf(o);
      return ref ? [controllerIndexValue(ref.kind, o.metadata?.namespace, ref.name)] : [];
    });
    const registry = options.registry ?? defaultRegistry;
    const metrics = this.#metrics = {
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
    const label = { name: this.name };
    this.#watcher = new Watcher<T>(client, rt, { ...options, name: this.name, clock: this.#clock }, {
      watchStarted: () => metrics.watches.inc(label),
      failed: () => metrics.failures.inc(label),
    });
  }

  /** What the informer did so far (a snapshot). */
  get stats(): InformerStats {
    return { ...this.#watcher.stats, relists: this.#relists };
  }

  /** Lists, then watches until stopped (or `signal` aborts); resolves when stopped. Errors are retried, never thrown. */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#run) return this.#run;
    const ac = this.#ac = new AbortController();
    const onAbort = () => ac.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    this.#scheduleResync();
    this.#run = this.#follow(ac.signal).finally(() => {
      // Stopped by stop(): the caller's signal may live much longer than this informer.
      signal?.removeEventListener("abort", onAbort);
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
    const since = this.#watcher.unhealthySince;
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
    return this.#watcher.resourceVersion;
  }

  // ---- the watcher's steps ---------------------------------------------------------------

  async #follow(signal: AbortSignal): Promise<void> {
    const steps = this.#watcher.steps(signal);
    for (let next = await steps.next(); !next.done;) {
      try {
        this.#step(next.value);
      } catch (err) {
        // A step the informer cannot take (a `transform` that throws) fails the watcher's attempt,
        // as in client-go: logged, backed off and relisted. Wrapped, so that a TypeError is never
        // mistaken for a stream cut mid-body, which would resume past the object without a backoff.
        const message = err instanceof Error ? err.message : String(err);
        next = await steps.throw(new Error(`caching an object failed: ${message}`, { cause: err }));
        continue;
      }
      next = await steps.next();
    }
  }

  #step(step: WatcherStep<T>): void {
    switch (step.type) {
      case "init":
        this.#listing = new Map();
        return;
      case "initApply": {
        // Prepared as it arrives, so a page's garbage (managedFields first) is freed before the next.
        const o = this.#prepare(step.object);
        this.#listing!.set(objectKey(o), o);
        return;
      }
      case "initDone":
        this.#replace(this.#listing!, step.resourceVersion);
        this.#listing = undefined;
        return;
      case "apply":
      case "delete":
        this.#apply(step.type, step.object);
    }
  }

  /** Replaces the cache with a full list's objects, already through {@link #prepare}. */
  #replace(fresh: Map<string, T>, rv: string): void {
    const old = this.#store;
    const events: [HandlerType, T, T?][] = [];
    for (const [k, o] of fresh) {
      const prev = old.get(k);
      if (!prev) events.push(["add", o]);
      else if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) {
        events.push(["update", prev, o]);
      } else fresh.set(k, prev); // unchanged: keep the instance handlers already saw
    }
    for (const [k, o] of old.entries()) if (!fresh.has(k)) events.push(["delete", o]);
    old.replace(fresh);
    this.#relists++;
    this.#metrics.lists.inc({ name: this.name });
    this.#metrics.objects.set({ name: this.name }, fresh.size);
    this.#log.debug("listed {count} objects of {informer} at {rv}", { count: fresh.size, rv });
    const initial = !this.#synced;
    for (const [type, a, b] of events) this.#emit(type, a, b, initial);
    collectIfGrown();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  #apply(type: "apply" | "delete", raw: T): void {
    const o = this.#prepare(raw);
    const key = objectKey(o);
    if (type === "delete") {
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
    // List items and PartialObjectMetadata carry no (or a generic) kind: name the real one.
    if (this.options.metadataOnly || !obj.apiVersion || !obj.kind) {
      obj.apiVersion = this.resourceType.apiVersion;
      obj.kind = this.resourceType.kind;
    }
    return (this.options.transform ? this.options.transform(obj) : obj) as T;
  }

  #emit(type: HandlerType, a: T, b?: T, initial = false): void {
    for (const h of this.#handlers) this.#call(h, type, a, b, initial);
  }

  #call(h: InformerHandlers<T>, type: HandlerType, a: T, b?: T, initial = false): void {
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
