/**
 * The watcher: the list/watch protocol of one resource type and nothing else (kube-rs's
 * `watcher`, the protocol half of client-go's Reflector). It lists in pages (or streams the
 * initial state with `sendInitialEvents`), watches from the list's resourceVersion with bookmarks,
 * resumes after clean closes without relisting, relists on 410 Gone, detects silent streams with
 * its one idle watchdog, and backs off failures (with reset-after), yielding {@link WatcherStep}s.
 * What to do with the objects (a cache, indexes, handlers) is the consumer's business: see
 * informer.ts.
 *
 * The steps come as an async iterator rather than through a callback: the consumer pulls, so the
 * watcher reads the next event only once the previous step was handled (no buffering behind a
 * slow consumer), and a test or a one-off tool reads the protocol with a plain `for await`.
 */
import type { KubeClient, KubeObject, ListOptions, ObjectList } from "../kube/client.ts";
import { ApiError, ConnectionError, GoneError, ServerError, TooManyRequestsError } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import { IdleWatchdog, WatchIdleError } from "../kube/watch.ts";
import { logger } from "../observe/log.ts";
import { Backoff } from "../time/backoff.ts";
import { abortableDelay, type Clock, realClock } from "../time/clock.ts";
import type { WatcherObserver, WatcherOptions, WatcherStats, WatcherStep } from "./watcher-options.ts";

/** How one watch request ended. */
type WatchEnd = "closed" | "idle" | "expired" | "short" | "stopped";

/** A watch that closed this soon with nothing received is a failure (client-go's VeryShortWatchError). */
const SHORT_WATCH_MS = 1000;
/** Restarts of a paged list whose continue token expired, before it counts as a failure. */
const PAGED_LIST_RESTARTS = 3;

function isTooLargeRV(err: unknown): boolean {
  return err instanceof ApiError && /too large resource version/i.test(err.message);
}

/** 429, 5xx and an unreachable server keep the state: the next attempt re-watches (or retries the list). */
function isTransient(err: unknown): boolean {
  return err instanceof TooManyRequestsError || err instanceof ServerError || err instanceof ConnectionError;
}

function isInitialEventsEnd(obj: KubeObject | undefined): boolean {
  return obj?.metadata?.annotations?.["k8s.io/initial-events-end"] === "true";
}

/**
 * The list/watch protocol of one resource type. Iterate {@link Watcher.steps} once at a time;
 * each iteration starts with a list, not older than the resourceVersion the previous one reached.
 */
export class Watcher<T extends KubeObject = KubeObject> {
  /** For logs. */
  readonly name: string;
  /** What the watcher did so far. */
  readonly stats: WatcherStats = { lists: 0, watches: 0, events: 0, failures: 0, expired: 0 };
  readonly #client: KubeClient;
  readonly #rt: ResourceType;
  readonly #options: WatcherOptions;
  readonly #observer: WatcherObserver;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #log;
  #rv?: string;
  #needList = true;
  #listedOnce = false;
  #streamingUnsupported = false;
  /** The last streaming list failed: the next list is a LIST (this attempt only, as client-go). */
  #listOnce = false;
  #unhealthySince?: number;

  /**
   * Builds the watcher; nothing is requested before {@link Watcher.steps} is iterated.
   * @param client lists and watches through its `list` and `watch`
   * @param rt the resource type to watch
   * @param observer told about watch requests and failures (an informer's metrics)
   */
  constructor(
    client: KubeClient,
    rt: ResourceType,
    options: WatcherOptions = {},
    observer: WatcherObserver = {},
  ) {
    this.#client = client;
    this.#rt = rt;
    this.#options = options;
    this.#observer = observer;
    this.name = options.name ?? (options.namespace ? `${rt.kind}/${options.namespace}` : rt.kind);
    this.#clock = options.clock ?? realClock;
    this.#backoff = new Backoff({
      initialMs: 800,
      factor: 2,
      jitter: 1,
      maxMs: 30_000,
      resetAfterMs: 120_000,
      clock: this.#clock,
      ...options.backoff,
    });
    // The informer's category and field: the watcher is its protocol half, and log lines stay as they were.
    this.#log = logger("runtime", "informer").with({ informer: this.name });
  }

  /** The resourceVersion the next watch or relist resumes from. */
  get resourceVersion(): string | undefined {
    return this.#rv;
  }

  /**
   * Since when (monotonic ms) the watcher has had neither a completed list nor an open watch: since
   * it started, since a failure, or since it sent a watch request the server has not answered yet.
   * Undefined from a completed list or an accepted watch until then (and before it started).
   */
  get unhealthySince(): number | undefined {
    return this.#unhealthySince;
  }

  /**
   * Lists, then watches, until `signal` aborts or the consumer stops iterating. Failures are
   * logged and retried after a backoff, never thrown.
   */
  async *steps(signal?: AbortSignal): AsyncGenerator<WatcherStep<T>, void, undefined> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#unhealthySince = this.#clock.now();
    this.#needList = true; // a new consumer holds nothing yet
    try {
      while (!ac.signal.aborted) {
        try {
          let end: WatchEnd;
          if (
            this.#needList && this.#options.streamingList && !this.#streamingUnsupported && !this.#listOnce
          ) {
            end = yield* this.#watch(ac.signal, true);
          } else {
            this.#listOnce = false;
            if (this.#needList) yield* this.#list(ac.signal);
            end = yield* this.#watch(ac.signal, false);
          }
          if (end === "stopped") return;
          if (end === "expired") {
            this.stats.expired++;
            // A streaming list asked for a version that is gone: stream the latest state instead.
            if (this.#needList) this.#rv = undefined;
            this.#log.info("watch of {informer} expired (410); relisting from {rv}", { rv: this.#rv });
            this.#needList = true;
          }
          if (end === "short") {
            await this.#failure(
              ac.signal,
              new Error("the watch closed immediately with no events"),
              "rewatch",
            );
          }
        } catch (err) {
          if (ac.signal.aborted) return;
          if (err instanceof GoneError || !isTransient(err)) this.#needList = true;
          await this.#failure(ac.signal, err, this.#needList ? "relist" : "rewatch");
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      ac.abort();
    }
  }

  async #failure(signal: AbortSignal, err: unknown, next: string): Promise<void> {
    this.#unhealthySince ??= this.#clock.now();
    this.stats.failures++;
    this.#observer.failed?.(err);
    let delay = this.#backoff.next();
    // The server said when to come back: never sooner.
    if (err instanceof TooManyRequestsError && err.retryAfterSeconds !== undefined) {
      delay = Math.max(delay, err.retryAfterSeconds * 1000);
    }
    this.#log.warning("{informer}: {error}; {next} in {delayMs} ms", {
      error: err instanceof Error ? err.message : String(err),
      next,
      delayMs: Math.round(delay),
    });
    await abortableDelay(this.#clock, delay, signal);
  }

  #listOptions(signal: AbortSignal): ListOptions {
    return {
      namespace: this.#options.namespace,
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
      metadataOnly: this.#options.metadataOnly,
      signal,
    };
  }

  /** One full list: `init`, an `initApply` per object, `initDone`. */
  async *#list(signal: AbortSignal): AsyncGenerator<WatcherStep<T>, void, undefined> {
    const base = this.#listOptions(signal);
    yield { type: "init" };
    let rv: string | undefined;
    let items: T[] | undefined;
    if (this.#rv) {
      // Not older than what we saw, so a relist never goes back in time; unpaginated, served by the watch cache.
      try {
        this.stats.lists++;
        const list = await this.#client.list<T>(this.#rt, {
          ...base,
          resourceVersion: this.#rv,
          resourceVersionMatch: "NotOlderThan",
        });
        rv = list.metadata?.resourceVersion;
        items = list.items;
      } catch (err) {
        if (!(err instanceof GoneError) && !isTooLargeRV(err)) throw err;
        this.#log.info("relist of {informer} at {rv} is not possible ({error}); listing the latest state", {
          rv: this.#rv,
          error: (err as Error).message,
        });
        this.#rv = undefined;
      }
    }
    if (items) {
      for (const object of items) yield { type: "initApply", object };
    } else {
      rv = yield* this.#pages(base);
    }
    if (!rv) throw new Error(`list of ${this.name} returned no resourceVersion`);
    this.#listed(rv);
    yield { type: "initDone", resourceVersion: rv };
  }

  /**
   * A paginated list at the latest state, page by page through the client's `list`, so the
   * consumer prepares a page's objects (dropping their managedFields) before the next arrives.
   * A continue token that expired (410 on page 2 or later) restarts the whole list with a new
   * `init`, so pages of two snapshots never mix. Returns the list's resourceVersion.
   */
  async *#pages(base: ListOptions): AsyncGenerator<WatcherStep<T>, string | undefined, undefined> {
    const limit = this.#options.pageSize ?? 500;
    let restarts = 0;
    let cont: string | undefined;
    let rv: string | undefined;
    for (;;) {
      let page: ObjectList<T>;
      try {
        this.stats.lists++;
        page = await this.#client.list<T>(this.#rt, { ...base, limit, continue: cont });
      } catch (err) {
        if (!(err instanceof GoneError && cont && restarts < PAGED_LIST_RESTARTS)) throw err;
        this.#log.info("list of {informer} expired while paging; restarting it", {});
        restarts++;
        cont = rv = undefined;
        yield { type: "init" };
        continue;
      }
      rv ??= page.metadata?.resourceVersion;
      cont = page.metadata?.continue || undefined;
      for (const object of page.items) yield { type: "initApply", object };
      if (!cont) return rv;
    }
  }

  /** The state is complete at `rv`: the next attempt watches from it. */
  #listed(rv: string): void {
    this.#rv = rv;
    this.#needList = false;
    this.#listedOnce = true;
    this.#unhealthySince = undefined;
  }

  /**
   * One watch request. With `initial`, it is a streaming list: the initial events come as
   * `initApply` until the bookmark that marks their end (`initDone`), and the same stream then
   * goes on as a normal watch.
   */
  async *#watch(signal: AbortSignal, initial: boolean): AsyncGenerator<WatcherStep<T>, WatchEnd, undefined> {
    // The consumer may have stopped while it handled the list's last step: an aborted signal fires
    // no event, so a watch sent now would run on until its idle or server timeout.
    if (signal.aborted) return "stopped";
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const minTimeout = this.#options.minWatchTimeoutSeconds ?? 240;
    const timeoutSeconds = Math.floor(minTimeout + Math.random() * Math.min(minTimeout, 50));
    const idleMs = this.#options.idleTimeoutMs ?? 90_000;
    // The stream's one idle watchdog: armed before the request (a request that never gets headers
    // hangs as surely as a silent body), re-armed by every event.
    const watchdog = new IdleWatchdog(idleMs, ac, this.#clock);
    const started = this.#clock.now();
    const short = () => received === 0 && this.#clock.now() - started < SHORT_WATCH_MS;
    let received = 0;
    let listing = initial;
    this.stats.watches++;
    this.#observer.watchStarted?.();
    // No open watch until the server accepts this one (`onOpen`): a request left unanswered until
    // the watchdog abandons it, again and again, must not look healthy.
    this.#unhealthySince ??= this.#clock.now();
    watchdog.arm();
    try {
      const stream = this.#client.watch<T>(this.#rt, {
        ...this.#listOptions(ac.signal),
        resourceVersion: this.#rv ?? (initial ? "" : undefined),
        resourceVersionMatch: initial ? "NotOlderThan" : undefined,
        sendInitialEvents: initial ? true : undefined,
        allowWatchBookmarks: true,
        timeoutSeconds,
        idleTimeoutMs: 0, // the client's watchdog off: the one above guards this stream
        onOpen: () => {
          this.#unhealthySince = undefined;
        },
      });
      if (initial) yield { type: "init" };
      for await (const ev of stream) {
        watchdog.arm();
        received++;
        this.stats.events++;
        if (ev.type === "ERROR") {
          if (ev.error instanceof GoneError) return "expired";
          if (listing) return this.#streamingFailed(ev.error);
          throw ev.error;
        }
        const object = ev.object as T;
        const rv = object?.metadata?.resourceVersion;
        if (ev.type === "BOOKMARK") {
          if (listing && rv && isInitialEventsEnd(object)) {
            this.stats.lists++;
            listing = false;
            this.#listed(rv);
            yield { type: "initDone", resourceVersion: rv };
          } else if (rv && !listing) this.#rv = rv;
          continue;
        }
        if (listing) {
          // The initial events are all ADDED (the API promises no other type before the bookmark).
          if (ev.type !== "DELETED") yield { type: "initApply", object };
          continue;
        }
        if (rv) this.#rv = rv;
        yield ev.type === "DELETED" ? { type: "delete", object } : { type: "apply", object };
      }
      if (signal.aborted) return "stopped";
      if (short()) return "short";
      // A streaming list closed before its initial state was complete starts over (still `needList`).
      if (!listing) {
        this.#log.debug("watch of {informer} closed by the server; resuming from {rv}", { rv: this.#rv });
      }
      return "closed";
    } catch (err) {
      if (signal.aborted) return "stopped";
      if (initial && !this.#listedOnce && err instanceof ApiError && [400, 403, 422].includes(err.code)) {
        return this.#streamingRefused(err);
      }
      if (ac.signal.reason instanceof WatchIdleError || err instanceof WatchIdleError) {
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
        return short() ? "short" : "closed";
      }
      throw err;
    } finally {
      watchdog.stop();
      signal.removeEventListener("abort", onAbort);
      ac.abort();
    }
  }

  /**
   * A streaming list ended with an error event (the server gave up encoding its initial state): the
   * next attempt lists with LIST, the one after it streams again (a failed attempt, not a refusal).
   */
  #streamingFailed(err: unknown): WatchEnd {
    this.#listOnce = true;
    this.#log.warning("{informer}: the streaming list failed ({error}); listing with LIST this time", {
      error: (err as Error).message,
    });
    return "closed";
  }

  /** The server refused a streaming list (an old server, or the feature is off): use LIST from now on. */
  #streamingRefused(err: unknown): WatchEnd {
    this.#streamingUnsupported = true;
    this.#log.warning("{informer}: the server refused a streaming list ({error}); falling back to LIST", {
      error: (err as Error).message,
    });
    return "closed";
  }
}
