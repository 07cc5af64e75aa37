/**
 * An in-memory Kubernetes API server behind the {@link Transport} seam, for unit tests of the
 * runtime: objects with resourceVersions, get/list (with limit and continue)/create/update
 * (with resourceVersion preconditions)/delete, and watch streams with bookmarks and history,
 * plus the faults real servers produce: compacted history (410 Expired), expired continue
 * tokens, clean closes, silent (stalled) streams, and any scripted response (429, 500, ...).
 *
 * Only what the runtime needs is modelled: label selectors support `k=v` terms; field selectors
 * are ignored. Use the real control plane for claims about API behaviour.
 */
import type { KubeObject } from "../../lib/kube/client.ts";
import type { KubeRequest, Transport } from "../../lib/kube/transport.ts";

/** A recorded request. */
export interface FakeRequest extends KubeRequest {
  /** path?query */
  url: string;
  /** GET, LIST, WATCH, POST, PUT, PATCH or DELETE. */
  verb: string;
}

/** Builds a JSON response. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Builds a Status response. */
export function statusResponse(
  code: number,
  reason: string,
  message = reason,
  headers: Record<string, string> = {},
): Response {
  return jsonResponse(
    code,
    { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message },
    headers,
  );
}

interface Parsed {
  collection: string;
  namespace?: string;
  name?: string;
}

/** Splits an API path into the collection (`group/version/plural`), namespace and name. */
export function parsePath(path: string): Parsed {
  const seg = path.split("/").filter(Boolean).map(decodeURIComponent);
  let gv: string, rest: string[];
  if (seg[0] === "api") [gv, rest] = [seg[1], seg.slice(2)];
  else [gv, rest] = [`${seg[1]}/${seg[2]}`, seg.slice(3)];
  if (rest[0] === "namespaces" && rest.length >= 3) {
    return { collection: `${gv}/${rest[2]}`, namespace: rest[1], name: rest[3] };
  }
  return { collection: `${gv}/${rest[0]}`, name: rest[1] };
}

interface Change {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  collection: string;
  object: KubeObject;
}

interface OpenWatch {
  collection: string;
  namespace?: string;
  selector?: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
  stalled: boolean;
  closed: boolean;
}

const enc = new TextEncoder();

function matches(obj: KubeObject, namespace?: string, selector?: string): boolean {
  if (namespace && obj.metadata?.namespace !== namespace) return false;
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=");
    return obj.metadata?.labels?.[k.trim()] === v?.trim();
  });
}

const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o));

/** The fake server. Tests mutate objects directly (`put`, `remove`) or through a KubeClient. */
export class FakeApiServer implements Transport {
  readonly server = "https://fake-apiserver.test:6443";
  readonly requests: FakeRequest[] = [];
  #objects = new Map<string, Map<string, KubeObject>>();
  #history: Change[] = [];
  #rv = 100;
  #compactedRv = 0;
  #watches = new Set<OpenWatch>();
  #expireContinue = 0;
  /** Answers a request before the default handling when it returns a Response. */
  intercept?: (req: FakeRequest) => Response | undefined | Promise<Response | undefined>;

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Requests of one verb (LIST, WATCH, GET, POST, PUT, DELETE). */
  count(verb: string): number {
    return this.requests.filter((r) => r.verb === verb).length;
  }

  /** Creates or replaces an object (bumping its resourceVersion) and notifies watchers. */
  put(collection: string, obj: KubeObject): KubeObject {
    const key = `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}`;
    const coll = this.#coll(collection);
    const existed = coll.has(key);
    const stored = clone(obj);
    stored.metadata = {
      ...stored.metadata,
      resourceVersion: String(++this.#rv),
      uid: stored.metadata?.uid ?? (existed ? coll.get(key)!.metadata?.uid : crypto.randomUUID()),
      generation: stored.metadata?.generation ?? 1,
    };
    coll.set(key, stored);
    this.#record(existed ? "MODIFIED" : "ADDED", collection, stored);
    return clone(stored);
  }

  /** Deletes an object and notifies watchers; returns whether it existed. */
  remove(collection: string, namespace: string | undefined, name: string): boolean {
    const key = `${namespace ?? ""}/${name}`;
    const coll = this.#coll(collection);
    const obj = coll.get(key);
    if (!obj) return false;
    coll.delete(key);
    const gone = { ...clone(obj), metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) } };
    this.#record("DELETED", collection, gone);
    return true;
  }

  /** Deletes an object without telling watchers (as if the event was lost; a relist must notice). */
  removeSilently(collection: string, namespace: string | undefined, name: string): void {
    this.#coll(collection).delete(`${namespace ?? ""}/${name}`);
    this.#rv++;
  }

  /** The stored object, if any. */
  object(collection: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.#coll(collection).get(`${namespace ?? ""}/${name}`);
    return o && clone(o);
  }

  /** Every stored object of a collection. */
  objects(collection: string): KubeObject[] {
    return [...this.#coll(collection).values()].map(clone);
  }

  /** Forgets history up to now: watches from an older resourceVersion get 410 Expired. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  /** The next `n` list requests carrying a continue token answer 410 Expired. */
  expireContinueTokens(n = 1): void {
    this.#expireContinue = n;
  }

  /** Open watch streams (not closed by either side). */
  get openWatches(): number {
    return [...this.#watches].filter((w) => !w.closed).length;
  }

  /** Closes every open watch cleanly (as a server-side timeout does). */
  closeWatches(): void {
    for (const w of this.#watches) this.#close(w);
  }

  /** Keeps watches open but sends nothing more on them (a half-open TCP connection). */
  stallWatches(): void {
    for (const w of this.#watches) w.stalled = true;
  }

  /** Sends an ERROR event (e.g. 410 Expired) on every open watch, then closes them. */
  errorWatches(code = 410, reason = "Expired", message = "too old resource version"): void {
    for (const w of this.#watches) {
      this.#send(w, {
        type: "ERROR",
        object: { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message },
      });
      this.#close(w);
    }
  }

  /** Sends a BOOKMARK at the current resourceVersion on every open watch. */
  bookmark(): void {
    for (const w of this.#watches) {
      this.#send(w, {
        type: "BOOKMARK",
        object: { kind: "Bookmark", metadata: { resourceVersion: this.resourceVersion } },
      });
    }
  }

  /** Writes raw bytes to every open watch (to test event framing across chunks). */
  sendRaw(text: string): void {
    for (const w of this.#watches) if (!w.closed && !w.stalled) w.controller.enqueue(enc.encode(text));
  }

  async request(req: KubeRequest): Promise<Response> {
    const qs = req.query?.toString();
    const p = parsePath(req.path);
    const watch = req.query?.get("watch") === "true" || req.query?.get("watch") === "1";
    const verb = req.method === "GET" ? (watch ? "WATCH" : p.name ? "GET" : "LIST") : req.method;
    const rec: FakeRequest = { ...req, url: `${req.path}${qs ? `?${qs}` : ""}`, verb };
    this.requests.push(rec);
    if (req.signal?.aborted) throw req.signal.reason;
    const scripted = await this.intercept?.(rec);
    if (scripted) return scripted;
    switch (verb) {
      case "WATCH":
        return this.#watch(p, req);
      case "LIST":
        return this.#list(p, req);
      case "GET": {
        const o = this.object(p.collection, p.namespace, p.name!);
        return o ? jsonResponse(200, o) : statusResponse(404, "NotFound", `"${p.name}" not found`);
      }
      case "POST": {
        const body = JSON.parse(req.body ?? "{}") as KubeObject;
        body.metadata = { ...body.metadata, namespace: p.namespace ?? body.metadata?.namespace };
        if (this.object(p.collection, p.namespace, body.metadata.name!)) {
          return statusResponse(409, "AlreadyExists", `"${body.metadata.name}" already exists`);
        }
        body.metadata = { ...body.metadata, resourceVersion: undefined };
        return jsonResponse(201, this.put(p.collection, body));
      }
      case "PUT": {
        const body = JSON.parse(req.body ?? "{}") as KubeObject;
        const cur = this.object(p.collection, p.namespace, p.name!);
        if (!cur) return statusResponse(404, "NotFound", `"${p.name}" not found`);
        const rv = body.metadata?.resourceVersion;
        if (rv && rv !== cur.metadata?.resourceVersion) {
          return statusResponse(
            409,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version and try again",
          );
        }
        body.metadata = { ...body.metadata, namespace: p.namespace, uid: cur.metadata?.uid };
        return jsonResponse(200, this.put(p.collection, body));
      }
      case "DELETE": {
        const cur = this.object(p.collection, p.namespace, p.name!);
        if (!cur) return statusResponse(404, "NotFound", `"${p.name}" not found`);
        this.remove(p.collection, p.namespace, p.name!);
        return jsonResponse(200, cur);
      }
      default:
        return statusResponse(405, "MethodNotAllowed", `${verb} is not supported by the fake`);
    }
  }

  close(): void {
    this.closeWatches();
  }

  #coll(c: string): Map<string, KubeObject> {
    let m = this.#objects.get(c);
    if (!m) this.#objects.set(c, m = new Map());
    return m;
  }

  #record(type: Change["type"], collection: string, object: KubeObject): void {
    const change = { rv: this.#rv, type, collection, object };
    this.#history.push(change);
    for (const w of this.#watches) {
      if (w.collection === collection && matches(object, w.namespace, w.selector)) {
        this.#send(w, { type, object });
      }
    }
  }

  #list(p: Parsed, req: KubeRequest): Response {
    const q = req.query ?? new URLSearchParams();
    const cont = q.get("continue");
    if (cont && this.#expireContinue > 0) {
      this.#expireContinue--;
      return statusResponse(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result.",
      );
    }
    const all = [...this.#coll(p.collection).values()]
      .filter((o) => matches(o, p.namespace, q.get("labelSelector") ?? undefined))
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
    // Items of a typed list carry no kind/apiVersion, as with the real server.
    const bare = items.map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = clone(o);
      return rest;
    });
    return jsonResponse(200, {
      kind: "List",
      apiVersion: "v1",
      metadata: { resourceVersion: rv, continue: next },
      items: bare,
    });
  }

  #watch(p: Parsed, req: KubeRequest): Response {
    const q = req.query ?? new URLSearchParams();
    const from = Number(q.get("resourceVersion") || 0);
    let w!: OpenWatch;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        w = {
          collection: p.collection,
          namespace: p.namespace,
          selector: q.get("labelSelector") ?? undefined,
          controller,
          stalled: false,
          closed: false,
        };
      },
      cancel: () => {
        w.closed = true;
        this.#watches.delete(w);
      },
    });
    req.signal?.addEventListener("abort", () => this.#close(w, req.signal?.reason), { once: true });
    if (from && from < this.#compactedRv) {
      queueMicrotask(() => {
        this.#send(w, {
          type: "ERROR",
          object: {
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            code: 410,
            reason: "Expired",
            message: `too old resource version: ${from} (${this.#compactedRv})`,
          },
        });
        this.#close(w);
      });
      return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
    }
    this.#watches.add(w);
    if (q.get("sendInitialEvents") === "true") {
      // A streaming list: the current state as ADDED events, a bookmark marking its end, then changes.
      if (q.get("resourceVersionMatch") !== "NotOlderThan") {
        this.#watches.delete(w);
        return statusResponse(
          422,
          "Invalid",
          "resourceVersionMatch: Forbidden: sendInitialEvents requires NotOlderThan",
        );
      }
      for (const o of this.#coll(p.collection).values()) {
        if (matches(o, w.namespace, w.selector)) this.#send(w, { type: "ADDED", object: o });
      }
      this.#send(w, {
        type: "BOOKMARK",
        object: {
          kind: "Bookmark",
          metadata: {
            resourceVersion: this.resourceVersion,
            annotations: { "k8s.io/initial-events-end": "true" },
          },
        },
      });
      return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
    }
    for (const c of this.#history) {
      if (c.rv > from && c.collection === p.collection && matches(c.object, w.namespace, w.selector)) {
        this.#send(w, { type: c.type, object: c.object });
      }
    }
    return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
  }

  #send(w: OpenWatch, ev: unknown): void {
    if (w.closed || w.stalled) return;
    try {
      w.controller.enqueue(enc.encode(JSON.stringify(ev) + "\n"));
    } catch {
      w.closed = true;
    }
  }

  #close(w: OpenWatch, reason?: unknown): void {
    if (w.closed) return;
    w.closed = true;
    this.#watches.delete(w);
    try {
      if (reason !== undefined) w.controller.error(reason);
      else w.controller.close();
    } catch { /* already closed */ }
  }
}
