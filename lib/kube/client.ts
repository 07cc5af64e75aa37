/**
 * The Kubernetes API client: REST verbs for any resource type over a stack of transports, typed
 * errors, and watch as an async iterable.
 *
 * A request passes, top to bottom: {@link retrying} (resends transient failures), {@link deadline}
 * (one attempt's time limit), {@link readResponses} (typed errors, the body read whole),
 * {@link measured} (`rest_client_*` metrics), then the transport the client was given (the HTTP
 * transport, a fake, or either behind a write gate). docs/behaviour/client.md says what each
 * layer promises.
 */
import { logger } from "../observe/log.ts";
import { type Clock, realClock } from "../time/mod.ts";
import { ApiError, GoneError, NamespaceRequiredError, ResponseBodyError, summarizeBody } from "./errors.ts";
import { ClientMetrics, measured } from "./metrics.ts";
import { deadline } from "./deadline.ts";
import { readResponses } from "./response.ts";
import { resourcePath, type ResourceType, supportsStrategicMerge } from "./resources.ts";
import { retrying } from "./retry.ts";
import { type KubeRequest, stackTransport, type Transport } from "./transport.ts";
import { type WatchEvent, watchEvents } from "./watch.ts";
import type {
  DeleteOptions,
  KubeClientOptions,
  KubeObject,
  ListOptions,
  ObjectLike,
  ObjectList,
  PatchOptions,
  PatchType,
  ReadOptions,
  WatchOptions,
  WriteOptions,
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

/** One call as the verbs describe it, before it becomes a {@link KubeRequest}. */
interface Call {
  method: KubeRequest["method"];
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  stream?: boolean;
}

/**
 * A client for one API server.
 *
 * Scope, one rule for every verb: a namespaced resource addressed by name (`get`, `create`,
 * `replace`, `replaceStatus`, `patch`, `apply`, `delete`) needs an explicit namespace, the
 * `namespace` option or, for the verbs that take an object, its `metadata.namespace`; without one
 * the call fails with {@link NamespaceRequiredError} before anything is sent. `list`, `listAll`
 * and `watch` without a namespace cover every namespace. Cluster-scoped resources ignore the
 * namespace. The client never fills in {@link KubeClient.namespace} by itself.
 */
export class KubeClient {
  /** The transport the client was built on, below its own layers (derived clients stack theirs on it). */
  readonly transport: Transport;
  /**
   * The namespace of the kubeconfig context or the pod (default "default"), for callers that want
   * a default: pass it explicitly, the client never applies it.
   */
  readonly namespace: string;
  /** The transport with the client's layers on top: what every verb sends through. */
  readonly #stack: Transport;
  /** Times the layers' deadlines and backoff, and the idle watchdog of a watch. */
  readonly #clock: Clock;

  /** A client over `transport`, with the client's layers stacked on it. */
  constructor(transport: Transport, options: KubeClientOptions = {}) {
    this.transport = transport;
    this.namespace = options.namespace ?? "default";
    const clock = this.#clock = options.clock ?? realClock;
    const metrics = new ClientMetrics(transport.server, options.registry);
    this.#stack = stackTransport(
      transport,
      retrying({
        policy: options.retry,
        clock,
        sleep: options.sleep,
        random: options.random,
        onRetry: (attempt) => metrics.retried(attempt),
      }),
      deadline(options.requestTimeoutMs ?? 60_000, clock),
      readResponses(),
      measured(metrics, clock),
    );
  }

  /** GET one object; a namespaced resource needs `opts.namespace`. */
  async get<T = KubeObject>(rt: ResourceType, name: string, opts: ReadOptions = {}): Promise<T> {
    return await this.#json<T>({
      method: "GET",
      path: resourcePath(rt, namespaceFor("get", rt, opts.namespace, name), name),
      accept: opts.metadataOnly ? META_ONLY : undefined,
      signal: opts.signal,
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
    });
    // An empty PartialObjectMetadataList (metadataOnly) comes back with `items: null`.
    page.items ??= [];
    return page;
  }

  /**
   * Every page of a list, as one consistent snapshot (all namespaces without a namespace). A 410
   * on a continue token (the snapshot expired mid-way) restarts the whole list rather than mixing
   * two snapshots.
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

  /** POST a new object; a namespaced one goes to `opts.namespace`, else its `metadata.namespace`. */
  async create<T extends ObjectLike>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    const namespace = namespaceFor(
      "create",
      rt,
      opts.namespace ?? obj.metadata?.namespace,
      obj.metadata?.name,
    );
    return await this.#json<T>({
      method: "POST",
      path: resourcePath(rt, namespace),
      query: writeQuery(opts),
      body: obj,
      signal: opts.signal,
    });
  }

  /** PUT an object (optimistic concurrency through metadata.resourceVersion); namespace as for create. */
  async replace<T extends ObjectLike>(
    rt: ResourceType,
    obj: T,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<T> {
    const name = obj.metadata?.name ?? "";
    const namespace = namespaceFor("replace", rt, opts.namespace ?? obj.metadata?.namespace, name);
    return await this.#json<T>({
      method: "PUT",
      path: resourcePath(rt, namespace, name, opts.subresource),
      query: writeQuery(opts),
      body: obj,
      signal: opts.signal,
    });
  }

  /** PUT the status subresource. */
  replaceStatus<T extends ObjectLike>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.replace(rt, obj, { ...opts, subresource: "status" });
  }

  /**
   * PATCH an object (merge by default; strategic only for built-in kinds); a namespaced resource
   * needs `opts.namespace`.
   */
  async patch<T = KubeObject>(
    rt: ResourceType,
    name: string,
    patch: unknown,
    opts: PatchOptions = {},
  ): Promise<T> {
    const type = opts.type ?? "merge";
    if (type === "strategic" && !supportsStrategicMerge(rt)) {
      throw new TypeError(
        `strategic merge patch is not supported for ${rt.kind} (custom resources); use merge or apply`,
      );
    }
    if (type === "apply" && !opts.fieldManager) throw new TypeError("server-side apply needs a fieldManager");
    return await this.#json<T>({
      method: "PATCH",
      path: resourcePath(rt, namespaceFor("patch", rt, opts.namespace, name), name, opts.subresource),
      query: { ...writeQuery(opts), force: type === "apply" && opts.force ? true : undefined },
      body: patch,
      contentType: PATCH_CONTENT[type],
      signal: opts.signal,
    });
  }

  /** Server-side apply of a whole object (create or update), optionally forcing ownership; namespace as for create. */
  apply<T extends ObjectLike>(
    rt: ResourceType,
    obj: T,
    opts: WriteOptions & { fieldManager: string; force?: boolean; subresource?: string },
  ): Promise<T> {
    const name = obj.metadata?.name ?? "";
    const namespace = opts.namespace ?? obj.metadata?.namespace;
    if (rt.namespaced && !namespace) {
      return Promise.reject(new NamespaceRequiredError("apply", rt.kind, rt.plural, name || undefined));
    }
    return this.patch<T>(rt, name, obj, { ...opts, namespace, type: "apply" });
  }

  /** DELETE an object; returns the object (when finalizers keep it) or the Status. Needs `opts.namespace` when namespaced. */
  async delete<T = KubeObject>(rt: ResourceType, name: string, opts: DeleteOptions = {}): Promise<T> {
    const body = opts.preconditions || opts.propagationPolicy || opts.gracePeriodSeconds !== undefined
      ? {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: opts.preconditions,
        propagationPolicy: opts.propagationPolicy,
        gracePeriodSeconds: opts.gracePeriodSeconds,
      }
      : undefined;
    return await this.#json<T>({
      method: "DELETE",
      path: resourcePath(rt, namespaceFor("delete", rt, opts.namespace, name), name),
      query: writeQuery(opts),
      body,
      signal: opts.signal,
    });
  }

  /** GET any path (discovery, /version, ...), parsed as JSON. */
  getRaw<T = unknown>(path: string, signal?: AbortSignal): Promise<T> {
    return this.#json<T>({ method: "GET", path, signal });
  }

  /** POST to any path (reviews, token requests), parsed as JSON. */
  postRaw<T = unknown>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.#json<T>({ method: "POST", path, body, signal });
  }

  /**
   * Watches a collection (every namespace without a namespace). Ends when the server closes the
   * stream (resume from the last resourceVersion); throws {@link WatchIdleError} when the stream
   * goes silent, or the typed error when the watch cannot start. A 410 arrives as an ERROR event
   * whose `error` is a GoneError.
   */
  async *watch<T = KubeObject>(rt: ResourceType, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(opts.signal!.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const path = resourcePath(rt, opts.namespace);
    const request = `WATCH ${path}`;
    try {
      const res = await this.#stack.request(toRequest({
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
        stream: true,
      }));
      if (!res.body) {
        throw new ApiError(`${request}: the response has no body`, { code: res.status, request });
      }
      opts.onOpen?.();
      yield* watchEvents<T>(res.body, controller, opts.idleTimeoutMs ?? 180_000, request, this.#clock);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      controller.abort();
    }
  }

  /** Sends a call through the stack and parses the answer; a body that is not JSON is a {@link ResponseBodyError}. */
  async #json<T>(call: Call): Promise<T> {
    const res = await this.#stack.request(toRequest(call));
    // The response layer has read the body already: this cannot fail on the network.
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      const request = `${call.method} ${call.path}`;
      throw new ResponseBodyError(
        `${request}: the response body (HTTP ${res.status}) is not JSON: ${summarizeBody(text)}`,
        { code: res.status, request, cause: err },
      );
    }
  }
}

/** The namespace of a by-name call: required for a namespaced resource, none for a cluster-scoped one. */
function namespaceFor(
  verb: string,
  rt: ResourceType,
  namespace: string | undefined,
  name?: string,
): string | undefined {
  if (!rt.namespaced) return undefined;
  if (!namespace) throw new NamespaceRequiredError(verb, rt.kind, rt.plural, name || undefined);
  return namespace;
}

function writeQuery(opts: WriteOptions): Record<string, string | boolean | undefined> {
  return {
    fieldManager: opts.fieldManager,
    dryRun: opts.dryRun ? "All" : undefined,
    fieldValidation: opts.fieldValidation,
  };
}

/** The wire form of a call: query without empty values, JSON body with its content type. */
function toRequest(call: Call): KubeRequest {
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
  return {
    method: call.method,
    path: call.path,
    query,
    headers,
    body,
    signal: call.signal,
    stream: call.stream,
  };
}
