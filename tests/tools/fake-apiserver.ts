/**
 * The one in-memory Kubernetes API server of the unit tests, behind the {@link Transport} seam.
 * It keeps the real server's rules as the integration tests establish them (fake-apiserver/
 * store.ts: resourceVersions, 409 Conflict, AlreadyExists, NotFound, generation, the status
 * subresource, finalizers and deletionTimestamp; fake-apiserver/event-rules.ts: Event validation,
 * core/v1 and events.k8s.io/v1 over the same Events), serves get, list (label and field
 * selectors, limit and continue), create, update, merge/strategic/JSON patch, delete and watch
 * (history, bookmarks, streaming lists), and produces the faults real servers produce: compacted
 * history (410 Expired), expired continue tokens, clean closes, silent (stalled) streams, and any
 * scripted response (429, 500, ...) through {@link FakeApiServer.intercept}.
 *
 * Not modelled: server-side apply, strategic-merge list keys, admission, garbage collection;
 * ConfigMaps and other kinds without a spec carry a generation. Claims about the API itself
 * belong to the integration tests against a real control plane.
 */
import type { KubeObject } from "../../lib/kube/client.ts";
import type { KubeRequest, Transport } from "../../lib/kube/transport.ts";
import { type Clock, realClock } from "../../lib/time/clock.ts";
import { checkEvent, fromEventsV1, toEventsV1 } from "./fake-apiserver/event-rules.ts";
import { jsonPatch, mergePatch } from "./fake-apiserver/patches.ts";
import { type ParsedPath, parsePath } from "./fake-apiserver/paths.ts";
import { jsonResponse, Refusal, statusResponse } from "./fake-apiserver/responses.ts";
import { selectorFilter } from "./fake-apiserver/selectors.ts";
import { ObjectStore, type ResourceRules } from "./fake-apiserver/store.ts";
import { expiredStatus, WatchHub } from "./fake-apiserver/watch.ts";

export { jsonResponse, statusResponse } from "./fake-apiserver/responses.ts";
export { parsePath } from "./fake-apiserver/paths.ts";
export type { ResourceRules } from "./fake-apiserver/store.ts";

/** A recorded request. */
export interface FakeRequest extends KubeRequest {
  /** path?query */
  url: string;
  /** GET, LIST, WATCH, POST, PUT, PATCH or DELETE. */
  verb: string;
  /** The answer's HTTP status (0 until answered, or when the request failed without one). */
  status: number;
}

/** Options of a {@link FakeApiServer}. */
export interface FakeApiServerOptions {
  /** Stamps creation and deletion times, and runs TTLs (default: the real clock). */
  clock?: Clock;
  /**
   * `"existing"`: a create in a namespace needs a stored `v1/namespaces` object (404 without
   * one, 403 while it is terminating), as on a real server. Default `"any"`: every namespace
   * exists, so tests need not create them.
   */
  namespaces?: "any" | "existing";
  /** The Event TTL (the real server's default is one hour); default: Events never expire. */
  eventTtlMs?: number;
}

/** The collection of stored Events, and the events.k8s.io/v1 view of it. */
const CORE_EVENTS = "v1/events";
const EVENTS_V1 = "events.k8s.io/v1/events";
const json = { "content-type": "application/json" };
const identity = (o: KubeObject) => o;

/** The fake server. Tests change objects directly (`put`, `remove`) or through a KubeClient. */
export class FakeApiServer implements Transport {
  readonly server = "https://fake-apiserver.test:6443";
  readonly requests: FakeRequest[] = [];
  readonly #hub = new WatchHub();
  readonly #store: ObjectStore;
  readonly #namespaces: "any" | "existing";
  #expireContinue = 0;
  /** Answers a request before the default handling when it returns a Response. */
  intercept?: (req: FakeRequest) => Response | undefined | Promise<Response | undefined>;

  constructor(options: FakeApiServerOptions = {}) {
    this.#store = new ObjectStore(
      options.clock ?? realClock,
      (type, collection, object) => this.#hub.record(this.#store.resourceVersion, type, collection, object),
    );
    this.#namespaces = options.namespaces ?? "any";
    this.#store.define(CORE_EVENTS, { validate: (ev) => checkEvent(ev, false), ttlMs: options.eventTtlMs });
  }

  /** Declares the rules of a collection, e.g. a custom resource with a status subresource. */
  define(collection: string, rules: ResourceRules): void {
    this.#store.define(collection, rules);
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#store.resourceVersion);
  }

  /** Requests of one verb (LIST, WATCH, GET, POST, PUT, PATCH, DELETE). */
  count(verb: string): number {
    return this.requests.filter((r) => r.verb === verb).length;
  }

  /** Creates or replaces an object as another writer would (no preconditions) and notifies watchers. */
  put(collection: string, obj: KubeObject): KubeObject {
    return this.#store.put(collection, obj);
  }

  /** Deletes an object whatever its finalizers and notifies watchers; returns whether it existed. */
  remove(collection: string, namespace: string | undefined, name: string): boolean {
    return this.#store.remove(collection, namespace, name);
  }

  /** Deletes an object without telling watchers (as if the event was lost; a relist must notice). */
  removeSilently(collection: string, namespace: string | undefined, name: string): void {
    this.#store.removeSilently(collection, namespace, name);
  }

  /** The stored object, if any. */
  object(collection: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#store.find(collection, namespace, name);
  }

  /** Every stored object of a collection, in creation order. */
  objects(collection: string): KubeObject[] {
    return this.#store.all(collection);
  }

  /** Forgets history up to now: watches from an older resourceVersion get 410 Expired. */
  compact(): void {
    this.#hub.compact(this.#store.resourceVersion);
  }

  /** The next `n` list requests carrying a continue token answer 410 Expired. */
  expireContinueTokens(n = 1): void {
    this.#expireContinue = n;
  }

  /** Open watch streams (not closed by either side). */
  get openWatches(): number {
    return this.#hub.openCount;
  }

  /** Closes every open watch cleanly (as a server-side timeout does). */
  closeWatches(): void {
    this.#hub.closeAll();
  }

  /** Keeps watches open but sends nothing more on them (a half-open TCP connection). */
  stallWatches(): void {
    this.#hub.stallAll();
  }

  /** Sends an ERROR event (e.g. 410 Expired) on every open watch, then closes them. */
  errorWatches(code = 410, reason = "Expired", message = "too old resource version"): void {
    this.#hub.errorAll({ ...expiredStatus(message), code, reason } as KubeObject);
  }

  /** Sends a BOOKMARK at the current resourceVersion on every open watch. */
  bookmark(): void {
    this.#hub.sendAll({
      type: "BOOKMARK",
      object: { kind: "Bookmark", metadata: { resourceVersion: this.resourceVersion } },
    });
  }

  /** Writes raw bytes to every open watch (to test event framing across chunks). */
  sendRaw(text: string): void {
    this.#hub.sendRaw(text);
  }

  async request(req: KubeRequest): Promise<Response> {
    const qs = req.query?.toString();
    const p = parsePath(req.path);
    const watch = req.query?.get("watch") === "true" || req.query?.get("watch") === "1";
    const verb = req.method === "GET" ? (watch ? "WATCH" : p.name ? "GET" : "LIST") : req.method;
    const rec: FakeRequest = { ...req, url: `${req.path}${qs ? `?${qs}` : ""}`, verb, status: 0 };
    this.requests.push(rec);
    if (req.signal?.aborted) throw req.signal.reason;
    const res = (await this.intercept?.(rec)) ?? this.#answer(verb, p, req);
    rec.status = res.status;
    return res;
  }

  close(): void {
    this.closeWatches();
  }

  #answer(verb: string, p: ParsedPath, req: KubeRequest): Response {
    // events.k8s.io/v1 serves the stored core Events through a field mapping.
    const events = p.collection === EVENTS_V1;
    const coll = events ? CORE_EVENTS : p.collection;
    const view = events ? toEventsV1 : identity;
    const body = () => {
      const b = JSON.parse(req.body ?? "{}") as KubeObject;
      return events ? fromEventsV1(b) : b;
    };
    try {
      switch (verb) {
        case "WATCH":
          return this.#watch(p, coll, view, req);
        case "LIST":
          return this.#list(p, coll, view, req.query ?? new URLSearchParams());
        case "GET":
          return jsonResponse(200, view(this.#store.get(coll, p.namespace, p.name!)));
        case "POST": {
          const obj = body();
          this.#checkNamespace(p.namespace);
          if (events) checkEvent({ ...obj, metadata: { ...obj.metadata, namespace: p.namespace } }, true);
          return jsonResponse(201, view(this.#store.create(coll, p.namespace, obj)));
        }
        case "PUT":
          return jsonResponse(
            200,
            view(this.#store.update(coll, p.namespace, p.name!, body(), p.subresource)),
          );
        case "PATCH": {
          const cur = view(this.#store.get(coll, p.namespace, p.name!));
          const patched = this.#patch(cur, req);
          const next = events ? fromEventsV1(patched) : patched;
          return jsonResponse(200, view(this.#store.update(coll, p.namespace, p.name!, next, p.subresource)));
        }
        case "DELETE": {
          const opts = JSON.parse(req.body ?? "{}") as {
            preconditions?: { uid?: string; resourceVersion?: string };
          };
          const { object, deleted } = this.#store.delete(coll, p.namespace, p.name!, opts.preconditions);
          // Marked for deletion (finalizers pending): 202 Accepted with the object.
          if (!deleted) return jsonResponse(202, view(object));
          if (this.#store.rules(coll).custom) return jsonResponse(200, view(object));
          return jsonResponse(200, {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Success",
            details: { name: p.name, kind: p.collection.split("/").pop(), uid: object.metadata?.uid },
          });
        }
        default:
          return statusResponse(405, "MethodNotAllowed", `${verb} is not supported by the fake`);
      }
    } catch (err) {
      if (err instanceof Refusal) return err.toResponse();
      throw err;
    }
  }

  /** The patched object; a merge patch carrying a resourceVersion keeps it, so the store checks it. */
  #patch(cur: KubeObject, req: KubeRequest): KubeObject {
    const type = req.headers?.["Content-Type"] ?? "application/merge-patch+json";
    const patch = JSON.parse(req.body ?? "{}");
    if (type === "application/json-patch+json") return jsonPatch(cur, patch) as KubeObject;
    if (type === "application/merge-patch+json" || type === "application/strategic-merge-patch+json") {
      return mergePatch(cur, patch) as KubeObject;
    }
    throw new Refusal(415, "UnsupportedMediaType", `the fake does not apply ${type} patches`);
  }

  /** With `namespaces: "existing"`: 404 for a missing namespace, 403 for a terminating one. */
  #checkNamespace(namespace: string | undefined): void {
    if (this.#namespaces !== "existing" || !namespace) return;
    const ns = this.#store.find("v1/namespaces", undefined, namespace);
    if (!ns) {
      throw new Refusal(404, "NotFound", `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: "namespaces",
      });
    }
    if (ns.metadata?.deletionTimestamp) {
      throw new Refusal(
        403,
        "Forbidden",
        `unable to create new content in namespace ${namespace} because it is being terminated`,
        {
          name: namespace,
          kind: "namespaces",
          causes: [{ reason: "NamespaceTerminating", field: "metadata.namespace" }],
        },
      );
    }
  }

  #list(p: ParsedPath, coll: string, view: (o: KubeObject) => KubeObject, q: URLSearchParams): Response {
    const cont = q.get("continue");
    if (cont && this.#expireContinue > 0) {
      this.#expireContinue--;
      return statusResponse(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result.",
      );
    }
    const filter = selectorFilter(q.get("labelSelector") ?? undefined, q.get("fieldSelector") ?? undefined);
    const all = this.#store.all(coll)
      .filter((o) => (!p.namespace || o.metadata?.namespace === p.namespace) && filter(o))
      .sort((a, b) =>
        `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(
          `${b.metadata?.namespace}/${b.metadata?.name}`,
        )
      );
    const limit = Number(q.get("limit") ?? 0);
    const start = cont ? Number(JSON.parse(atob(cont)).offset) : 0;
    const rv = cont ? JSON.parse(atob(cont)).rv : this.resourceVersion;
    const items = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const next = limit > 0 && start + limit < all.length
      ? btoa(JSON.stringify({ offset: start + limit, rv }))
      : undefined;
    // Items of a built-in list carry no kind/apiVersion, as with the real server.
    const custom = this.#store.rules(coll).custom;
    const shown = items.map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = view(o);
      return custom ? view(o) : rest;
    });
    return jsonResponse(200, {
      kind: "List",
      apiVersion: "v1",
      metadata: { resourceVersion: rv, continue: next },
      items: shown,
    });
  }

  #watch(p: ParsedPath, coll: string, view: (o: KubeObject) => KubeObject, req: KubeRequest): Response {
    const q = req.query ?? new URLSearchParams();
    const from = Number(q.get("resourceVersion") || 0);
    const selected = selectorFilter(q.get("labelSelector") ?? undefined, q.get("fieldSelector") ?? undefined);
    const filter = (o: KubeObject) => (!p.namespace || o.metadata?.namespace === p.namespace) && selected(o);
    const spec = { collection: coll, filter, view, signal: req.signal };
    const current = () => this.#store.all(coll).filter(filter);
    if (q.get("sendInitialEvents") === "true") {
      // A streaming list: the current state as ADDED events, a bookmark marking its end, then changes.
      if (q.get("resourceVersionMatch") !== "NotOlderThan") {
        return statusResponse(
          422,
          "Invalid",
          "resourceVersionMatch: Forbidden: sendInitialEvents requires NotOlderThan",
        );
      }
      const bookmark = {
        type: "BOOKMARK",
        object: {
          kind: "Bookmark",
          metadata: {
            resourceVersion: this.resourceVersion,
            annotations: { "k8s.io/initial-events-end": "true" },
          },
        },
      };
      return new Response(this.#hub.open(spec, from, { objects: current(), bookmark }), {
        status: 200,
        headers: json,
      });
    }
    // Without a resourceVersion a watch starts with the current state, as on a real server.
    const initial = from ? undefined : { objects: current() };
    return new Response(this.#hub.open(spec, from, initial), { status: 200, headers: json });
  }
}
