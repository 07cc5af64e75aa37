/**
 * The Kubernetes API client: REST verbs for any resource type over a {@link Transport}, typed
 * errors, retries for idempotent requests, and watch as an async iterable.
 */
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import {
  ApiError,
  ConnectionError,
  errorFromResponse,
  GoneError,
  isRetryable,
  ServerError,
  TooManyRequestsError,
} from "./errors.ts";
import { resourcePath, type ResourceType, supportsStrategicMerge } from "./resources.ts";
import type { KubeRequest, Transport } from "./transport.ts";
import { type WatchEvent, watchEvents } from "./watch.ts";
import {
  type DeleteOptions,
  type KubeClientOptions,
  type KubeObject,
  type ListOptions,
  type ObjectLike,
  type ObjectList,
  type PatchOptions,
  type PatchType,
  type ReadOptions,
  type RetryPolicy,
  sleep,
  type WatchOptions,
  type WriteOptions,
} from "./types.ts";

export * from "./types.ts";

const PATCH_CONTENT: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};
const META_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
const META_ONLY_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

const log = logger("kube", "client");

/** Internal description of one call. */
interface Call {
  method: KubeRequest["method"];
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** Safe to send again after a failure. */
  idempotent: boolean;
}

/** A client for one API server. */
export class KubeClient {
  readonly transport: Transport;
  readonly namespace: string;
  #retry: RetryPolicy;
  #timeoutMs: number;
  #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #requests;
  #retries;
  #duration;
  #host: string;

  constructor(transport: Transport, options: KubeClientOptions = {}) {
    this.transport = transport;
    this.namespace = options.namespace ?? "default";
    this.#retry = { maxRetries: 10, baseDelayMs: 200, maxDelayMs: 10_000, ...options.retry };
    this.#timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#sleep = options.sleep ?? sleep;
    const registry = options.registry ?? defaultRegistry;
    this.#requests = registry.counter(
      "rest_client_requests_total",
      "Number of HTTP requests, partitioned by status code, method, and host.",
      ["code", "method", "host"],
    );
    this.#retries = registry.counter(
      "rest_client_request_retries_total",
      "Number of request retries, partitioned by status code, verb, and host.",
      ["code", "verb", "host"],
    );
    this.#duration = registry.histogram(
      "rest_client_request_duration_seconds",
      "Request latency in seconds. Broken down by verb and host.",
      ["verb", "host"],
    );
    this.#host = transport.server.replace(/^https?:\/\//, "");
  }

  /** GET one object. */
  get<T = KubeObject>(rt: ResourceType, name: string, opts: ReadOptions = {}): Promise<T> {
    return this.#json<T>({
      method: "GET",
      path: resourcePath(rt, this.#ns(rt, opts.namespace), name),
      accept: opts.metadataOnly ? META_ONLY : undefined,
      signal: opts.signal,
      idempotent: true,
    });
  }

  /** One page of a list; without a namespace, a namespaced kind is listed across all namespaces. */
  async list<T = KubeObject>(rt: ResourceType, opts: ListOptions = {}): Promise<ObjectList<T>> {
    const page = await this.#json<ObjectList<T>>({
      method: "GET",
      path: resourcePath(rt, opts.namespace),
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
      },
      accept: opts.metadataOnly ? META_ONLY_LIST : undefined,
      signal: opts.signal,
      idempotent: true,
    });
    // An empty PartialObjectMetadataList (metadataOnly) comes back with `items: null`.
    page.items ??= [];
    return page;
  }

  /**
   * Every page of a list, as one consistent snapshot. A 410 on a continue token (the snapshot
   * expired mid-way) restarts the whole list rather than mixing two snapshots.
   */
  async listAll<T = KubeObject>(rt: ResourceType, opts: ListOptions = {}): Promise<ObjectList<T>> {
    const pageSize = opts.limit ?? 500;
    for (let restart = 0;; restart++) {
      const items: T[] = [];
      let cont: string | undefined;
      let first: ObjectList<T> | undefined;
      try {
        do {
          const page = await this.list<T>(rt, { ...opts, limit: pageSize, continue: cont });
          first ??= page;
          items.push(...page.items);
          cont = page.metadata?.continue || undefined;
        } while (cont);
      } catch (err) {
        if (err instanceof GoneError && cont && restart < 5) {
          log.info("list snapshot expired while paging; restarting the list", {
            path: resourcePath(rt, opts.namespace),
          });
          continue;
        }
        throw err;
      }
      return { ...first!, metadata: { resourceVersion: first!.metadata?.resourceVersion }, items };
    }
  }

  /** POST a new object; the namespace comes from the object, the option, or the client default. */
  create<T extends ObjectLike>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#json<T>({
      method: "POST",
      path: resourcePath(rt, this.#ns(rt, opts.namespace ?? obj.metadata?.namespace)),
      query: this.#writeQuery(opts),
      body: obj,
      signal: opts.signal,
      idempotent: false,
    });
  }

  /** PUT an object (optimistic concurrency through metadata.resourceVersion). */
  replace<T extends ObjectLike>(
    rt: ResourceType,
    obj: T,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<T> {
    const name = obj.metadata?.name ?? "";
    return this.#json<T>({
      method: "PUT",
      path: resourcePath(rt, this.#ns(rt, opts.namespace ?? obj.metadata?.namespace), name, opts.subresource),
      query: this.#writeQuery(opts),
      body: obj,
      signal: opts.signal,
      idempotent: false,
    });
  }

  /** PUT the status subresource. */
  replaceStatus<T extends ObjectLike>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.replace(rt, obj, { ...opts, subresource: "status" });
  }

  /** PATCH an object (merge by default; strategic only for built-in kinds). */
  patch<T = KubeObject>(rt: ResourceType, name: string, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    const type = opts.type ?? "merge";
    if (type === "strategic" && !supportsStrategicMerge(rt)) {
      throw new TypeError(
        `strategic merge patch is not supported for ${rt.kind} (custom resources); use merge or apply`,
      );
    }
    if (type === "apply" && !opts.fieldManager) throw new TypeError("server-side apply needs a fieldManager");
    return this.#json<T>({
      method: "PATCH",
      path: resourcePath(rt, this.#ns(rt, opts.namespace), name, opts.subresource),
      query: { ...this.#writeQuery(opts), force: type === "apply" && opts.force ? true : undefined },
      body: patch,
      contentType: PATCH_CONTENT[type],
      signal: opts.signal,
      idempotent: false,
    });
  }

  /** Server-side apply of a whole object (create or update), optionally forcing ownership. */
  apply<T extends ObjectLike>(
    rt: ResourceType,
    obj: T,
    opts: WriteOptions & { fieldManager: string; force?: boolean; subresource?: string },
  ): Promise<T> {
    return this.patch<T>(rt, obj.metadata?.name ?? "", obj, {
      ...opts,
      namespace: opts.namespace ?? obj.metadata?.namespace,
      type: "apply",
    });
  }

  /** DELETE an object; returns the object (when finalizers keep it) or the Status. */
  delete<T = KubeObject>(rt: ResourceType, name: string, opts: DeleteOptions = {}): Promise<T> {
    const body = opts.preconditions || opts.propagationPolicy || opts.gracePeriodSeconds !== undefined
      ? {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: opts.preconditions,
        propagationPolicy: opts.propagationPolicy,
        gracePeriodSeconds: opts.gracePeriodSeconds,
      }
      : undefined;
    return this.#json<T>({
      method: "DELETE",
      path: resourcePath(rt, this.#ns(rt, opts.namespace), name),
      query: this.#writeQuery(opts),
      body,
      signal: opts.signal,
      idempotent: false,
    });
  }

  /** GET any path (discovery, /version, ...), parsed as JSON. */
  getRaw<T = unknown>(path: string, signal?: AbortSignal): Promise<T> {
    return this.#json<T>({ method: "GET", path, signal, idempotent: true });
  }

  /** POST to any path (reviews, token requests), parsed as JSON. */
  postRaw<T = unknown>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.#json<T>({ method: "POST", path, body, signal, idempotent: false });
  }

  /**
   * Watches a collection. Ends when the server closes the stream (resume from the last
   * resourceVersion); throws {@link WatchIdleError} when the stream goes silent, or the typed
   * error when the watch cannot start. A 410 arrives as an ERROR event whose `error` is a GoneError.
   */
  async *watch<T = KubeObject>(rt: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(opts.signal!.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const path = resourcePath(rt, opts.namespace);
    const request = `WATCH ${path}`;
    try {
      const res = await this.#send({
        method: "GET",
        path,
        query: {
          watch: true,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          resourceVersion: opts.resourceVersion,
          resourceVersionMatch: opts.resourceVersionMatch,
          allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
          timeoutSeconds: opts.timeoutSeconds,
          sendInitialEvents: opts.sendInitialEvents,
        },
        accept: opts.metadataOnly ? META_ONLY : undefined,
        signal: controller.signal,
        idempotent: false,
      }, true);
      if (!res.body) {
        throw new ApiError(`${request}: the response has no body`, { code: res.status, request });
      }
      opts.onOpen?.();
      yield* watchEvents<T>(res.body, controller, opts.idleTimeoutMs ?? 180_000, request);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      controller.abort();
    }
  }

  #ns(rt: ResourceType, namespace?: string): string | undefined {
    return rt.namespaced ? namespace ?? this.namespace : undefined;
  }

  #writeQuery(opts: WriteOptions): Record<string, string | boolean | undefined> {
    return {
      fieldManager: opts.fieldManager,
      dryRun: opts.dryRun ? "All" : undefined,
      fieldValidation: opts.fieldValidation,
    };
  }

  async #json<T>(call: Call): Promise<T> {
    const res = await this.#send(call, false);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Sends a call with retries (idempotent calls only); returns a 2xx response or throws. */
  async #send(call: Call, stream: boolean): Promise<Response> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(call.query ?? {})) {
      if (v !== undefined && v !== "") query.set(k, String(v));
    }
    const headers: Record<string, string> = { Accept: call.accept ?? "application/json" };
    let body: string | undefined;
    if (call.body !== undefined) {
      body = JSON.stringify(call.body);
      headers["Content-Type"] = call.contentType ?? "application/json";
    }
    const verb = stream ? "WATCH" : call.method;
    for (let attempt = 0;; attempt++) {
      const started = performance.now();
      let code = "<error>";
      const timeout = stream ? undefined : AbortSignal.timeout(this.#timeoutMs);
      const signal = timeout && call.signal
        ? AbortSignal.any([call.signal, timeout])
        : timeout ?? call.signal;
      try {
        let res: Response;
        try {
          res = await this.transport.request({
            method: call.method,
            path: call.path,
            query,
            headers,
            body,
            signal,
            stream,
          });
        } catch (err) {
          if (call.signal?.aborted) throw err;
          if (timeout?.aborted) {
            throw new ConnectionError(
              `${call.method} ${call.path}: no answer from ${this.transport.server} within ${this.#timeoutMs} ms`,
              { code: 0, request: `${call.method} ${call.path}`, cause: err },
            );
          }
          throw err;
        }
        code = String(res.status);
        if (res.ok) return res;
        const text = await res.text().catch(() => "");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch { /* not JSON: keep the text */ }
        throw errorFromResponse(
          res.status,
          parsed,
          `${call.method} ${call.path}`,
          res.headers.get("retry-after"),
          this.transport.server,
        );
      } catch (err) {
        if (attempt >= this.#retry.maxRetries || !isRetryable(err) || call.signal?.aborted) throw err;
        // A write is resent only when the server said it did not process it (429, or a 5xx with Retry-After).
        const refusedUnprocessed = err instanceof TooManyRequestsError ||
          (err instanceof ServerError && err.retryAfterSeconds !== undefined);
        if (!call.idempotent && !refusedUnprocessed) throw err;
        // The server's Retry-After is what it asked for (plus a little jitter so clients spread
        // out); without one, full-jitter exponential backoff.
        const retryAfterMs = ((err as ApiError).retryAfterSeconds ?? 0) * 1000;
        const wait = retryAfterMs > 0
          ? Math.min(60_000, retryAfterMs * (1 + Math.random() * 0.1))
          : Math.random() * Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** attempt);
        this.#retries.inc({ code, verb, host: this.#host });
        log.debug("retrying {verb} {path} after {waitMs} ms: {error}", {
          verb,
          path: call.path,
          waitMs: Math.round(wait),
          error: (err as Error).message,
        });
        await this.#sleep(wait, call.signal);
      } finally {
        const seconds = (performance.now() - started) / 1000;
        this.#requests.inc({ code, method: call.method, host: this.#host });
        this.#duration.observe({ verb, host: this.#host }, seconds);
        if (call.method !== "GET") {
          log.debug("API write {verb} {path} -> {code} in {durationMs} ms", {
            verb,
            path: call.path,
            code,
            durationMs: Math.round(seconds * 1000),
          });
        }
      }
    }
  }
}
