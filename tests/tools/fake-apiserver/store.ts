/**
 * The fake API server's storage and write rules, as the project's integration tests establish
 * them against a real kube-apiserver: every write takes a new resourceVersion (a write that
 * changes nothing takes none); a stale resourceVersion is a 409 Conflict; AlreadyExists and
 * NotFound; `generation` starts at 1 and grows when anything but metadata and status changes; a
 * resource with a status subresource ignores status in create and update and takes it only
 * through `/status`; delete with finalizers sets deletionTimestamp, and removing the last
 * finalizer of such an object deletes it; no finalizer may be added to it; custom resources
 * refuse an update without a resourceVersion.
 */
import type { KubeObject } from "../../../lib/kube/client.ts";
import type { Clock } from "../../../lib/time/clock.ts";
import { qualifiedResource } from "./paths.ts";
import { Refusal } from "./responses.ts";

/** What the server knows about a collection beyond its path. */
export interface ResourceRules {
  /** Has a status subresource. */
  status?: boolean;
  /** A custom resource (CRD): updates must carry a resourceVersion; delete answers with the object. */
  custom?: boolean;
  /** Checks an object before it is stored (throw a Refusal); `old` is the stored one on an update. */
  validate?: (obj: KubeObject, old?: KubeObject) => void;
  /** Objects vanish this long after their last write (as Events do, after an hour). */
  ttlMs?: number;
}

/** One stored change, as watches see it. */
export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** Built-in collections that have a status subresource. */
const WITH_STATUS = [
  "apps/v1/deployments",
  "apps/v1/statefulsets",
  "apps/v1/daemonsets",
  "apps/v1/replicasets",
  "batch/v1/jobs",
  "v1/pods",
  "v1/services",
  "v1/namespaces",
  "v1/nodes",
];

/** JSON equality, ignoring key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!a || !b || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length &&
    ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Everything but metadata and status: what `generation` counts changes of. */
function contents(o: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o));
const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ""}/${name}`;

/** The objects of every collection, written under the server's rules; `onChange` feeds the watches. */
export class ObjectStore {
  #objects = new Map<string, Map<string, KubeObject>>();
  #writtenAt = new Map<KubeObject, number>();
  #rules = new Map<string, ResourceRules>(WITH_STATUS.map((c) => [c, { status: true }]));
  #rv = 100;
  #uid = 0;

  constructor(
    private readonly clock: Clock,
    private readonly onChange: (type: ChangeType, collection: string, object: KubeObject) => void,
  ) {}

  /** The current resourceVersion. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Declares (or extends) the rules of a collection. */
  define(collection: string, rules: ResourceRules): void {
    this.#rules.set(collection, { ...this.#rules.get(collection), ...rules });
  }

  /** The rules of a collection (none for an undeclared one: a built-in without status subresource). */
  rules(collection: string): ResourceRules {
    return this.#rules.get(collection) ?? {};
  }

  /** A copy of the stored object, or undefined. */
  find(collection: string, namespace: string | undefined, name: string): KubeObject | undefined {
    this.#expire(collection);
    const o = this.#coll(collection).get(keyOf(namespace, name));
    return o && clone(o);
  }

  /** Copies of the stored objects of a collection, in creation order. */
  all(collection: string): KubeObject[] {
    this.#expire(collection);
    return [...this.#coll(collection).values()].map(clone);
  }

  /** The stored object, or a 404 NotFound. */
  get(collection: string, namespace: string | undefined, name: string): KubeObject {
    const o = this.find(collection, namespace, name);
    if (!o) throw this.#notFound(collection, name);
    return o;
  }

  /** Creates an object (POST): AlreadyExists, generateName, status ignored where it is a subresource. */
  create(collection: string, namespace: string | undefined, body: KubeObject): KubeObject {
    const meta = { ...body.metadata };
    if (namespace && meta.namespace && meta.namespace !== namespace) {
      throw new Refusal(
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    if (!meta.name && meta.generateName) {
      meta.name = `${meta.generateName}${(++this.#uid).toString(36).padStart(5, "0")}`;
    }
    if (!meta.name) {
      throw new Refusal(422, "Invalid", "metadata.name: Required value: name or generateName is required", {
        causes: [{ reason: "FieldValueRequired", field: "metadata.name", message: "Required value" }],
      });
    }
    if (this.find(collection, namespace, meta.name)) {
      const r = qualifiedResource(collection);
      throw new Refusal(409, "AlreadyExists", `${r.text} "${meta.name}" already exists`, {
        name: meta.name,
        group: r.group,
        kind: r.plural,
      });
    }
    if (meta.resourceVersion) {
      throw new Refusal(500, "InternalError", "resourceVersion should not be set on objects to be created");
    }
    const obj: KubeObject = { ...clone(body), metadata: { ...meta, namespace } };
    if (this.rules(collection).status) delete obj.status;
    delete (obj.metadata as Record<string, unknown>).deletionTimestamp;
    this.rules(collection).validate?.(obj);
    return this.#store(collection, undefined, obj);
  }

  /**
   * Writes `next` over the stored object (PUT, or a PATCH already applied): a resourceVersion in
   * `next` must be the stored one; `subresource` "status" takes only the status.
   */
  update(
    collection: string,
    namespace: string | undefined,
    name: string,
    next: KubeObject,
    subresource?: string,
  ): KubeObject {
    const rules = this.rules(collection);
    if (subresource && (subresource !== "status" || !rules.status)) throw this.#notFound(collection, name);
    const cur = this.get(collection, namespace, name);
    if (next.metadata?.name && next.metadata.name !== name) {
      throw new Refusal(
        400,
        "BadRequest",
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const rv = next.metadata?.resourceVersion;
    if (rv && rv !== cur.metadata!.resourceVersion) {
      const r = qualifiedResource(collection);
      throw new Refusal(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${r.text} "${name}": the object has been modified; ` +
          "please apply your changes to the latest version and try again",
        { name, group: r.group, kind: r.plural },
      );
    }
    if (!rv && rules.custom) {
      throw new Refusal(
        422,
        "Invalid",
        `${
          qualifiedResource(collection).text
        } "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
      );
    }
    let merged: KubeObject;
    if (subresource === "status") merged = { ...cur, status: clone(next.status) };
    else {
      merged = { ...clone(next), metadata: { ...next.metadata } };
      // Identity, creation and deletion belong to the server, not to the writer.
      const meta = merged.metadata as Record<string, unknown>;
      for (
        const f of [
          "uid",
          "creationTimestamp",
          "deletionTimestamp",
          "deletionGracePeriodSeconds",
          "namespace",
        ]
      ) {
        meta[f] = (cur.metadata as Record<string, unknown>)[f];
      }
      if (rules.status) merged.status = cur.status;
    }
    const added = (merged.metadata!.finalizers ?? []).filter((f) =>
      !(cur.metadata!.finalizers ?? []).includes(f)
    );
    if (cur.metadata!.deletionTimestamp && added.length) {
      throw new Refusal(
        422,
        "Invalid",
        `${
          qualifiedResource(collection).text
        } "${name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted`,
      );
    }
    rules.validate?.(merged, cur);
    return this.#store(collection, cur, merged);
  }

  /**
   * Deletes an object (DELETE): with finalizers it is only marked (deletionTimestamp); a
   * precondition on uid or resourceVersion that does not hold is a 409 Conflict.
   */
  delete(
    collection: string,
    namespace: string | undefined,
    name: string,
    preconditions: { uid?: string; resourceVersion?: string } = {},
  ): { object: KubeObject; deleted: boolean } {
    const cur = this.get(collection, namespace, name);
    for (const f of ["uid", "resourceVersion"] as const) {
      const want = preconditions[f];
      if (want && want !== cur.metadata![f]) {
        const field = f === "uid" ? "UID" : "ResourceVersion";
        throw new Refusal(
          409,
          "Conflict",
          `Precondition failed: ${field} in precondition: ${want}, ${field} in object meta: ${
            cur.metadata![f]
          }`,
        );
      }
    }
    if ((cur.metadata!.finalizers ?? []).length) {
      if (cur.metadata!.deletionTimestamp) return { object: cur, deleted: false };
      const marked = clone(cur);
      marked.metadata = {
        ...marked.metadata,
        deletionTimestamp: new Date(this.clock.wallNow()).toISOString().replace(/\.\d+Z$/, "Z"),
        deletionGracePeriodSeconds: 0,
        generation: (cur.metadata!.generation ?? 1) + 1,
      };
      return { object: this.#commit(collection, marked, "MODIFIED"), deleted: false };
    }
    this.remove(collection, namespace, name);
    return { object: cur, deleted: true };
  }

  /**
   * Creates or replaces an object as another writer would, without preconditions (a test's
   * direct write): uid and creationTimestamp stay, generation follows the rules, status is taken.
   */
  put(collection: string, obj: KubeObject): KubeObject {
    const cur = this.find(collection, obj.metadata?.namespace, obj.metadata?.name ?? "");
    const next = clone(obj);
    if (cur) {
      next.metadata = {
        ...next.metadata,
        uid: cur.metadata!.uid,
        creationTimestamp: cur.metadata!.creationTimestamp,
      };
    }
    return this.#store(collection, cur, next);
  }

  /** Deletes an object whatever its finalizers, telling watches; returns whether it existed. */
  remove(collection: string, namespace: string | undefined, name: string): boolean {
    const key = keyOf(namespace, name);
    const obj = this.#coll(collection).get(key);
    if (!obj) return false;
    this.#coll(collection).delete(key);
    this.#writtenAt.delete(obj);
    this.onChange("DELETED", collection, {
      ...clone(obj),
      metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) },
    });
    return true;
  }

  /** Deletes an object without telling watches (an event lost on the way; a relist must notice). */
  removeSilently(collection: string, namespace: string | undefined, name: string): void {
    const key = keyOf(namespace, name);
    const obj = this.#coll(collection).get(key);
    if (obj) this.#writtenAt.delete(obj);
    this.#coll(collection).delete(key);
    this.#rv++;
  }

  /** Stores `next` over `cur` (or new): a no-op write keeps everything; the last finalizer gone deletes. */
  #store(collection: string, cur: KubeObject | undefined, next: KubeObject): KubeObject {
    if (!cur) {
      next.metadata = {
        ...next.metadata,
        uid: next.metadata?.uid ?? `fake-uid-${++this.#uid}`,
        creationTimestamp: next.metadata?.creationTimestamp ??
          new Date(this.clock.wallNow()).toISOString().replace(/\.\d+Z$/, "Z"),
        generation: 1,
      };
      return this.#commit(collection, next, "ADDED");
    }
    next.metadata = {
      ...next.metadata,
      resourceVersion: cur.metadata!.resourceVersion,
      generation: (cur.metadata!.generation ?? 1) + (sameJson(contents(cur), contents(next)) ? 0 : 1),
    };
    if (sameJson(cur, next)) return cur;
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length) {
      this.remove(collection, cur.metadata!.namespace, cur.metadata!.name!);
      return next;
    }
    return this.#commit(collection, next, "MODIFIED");
  }

  #commit(collection: string, obj: KubeObject, type: ChangeType): KubeObject {
    obj.metadata = { ...obj.metadata, resourceVersion: String(++this.#rv) };
    const coll = this.#coll(collection);
    const key = keyOf(obj.metadata.namespace, obj.metadata.name!);
    const old = coll.get(key);
    if (old) this.#writtenAt.delete(old);
    coll.set(key, obj);
    this.#writtenAt.set(obj, this.clock.now());
    this.onChange(type, collection, clone(obj));
    return clone(obj);
  }

  /** Drops objects past their collection's TTL (etcd leases: the watch sees a DELETED). */
  #expire(collection: string): void {
    const ttl = this.rules(collection).ttlMs;
    if (ttl === undefined) return;
    for (const o of [...this.#coll(collection).values()]) {
      if ((this.#writtenAt.get(o) ?? 0) + ttl <= this.clock.now()) {
        this.remove(collection, o.metadata?.namespace, o.metadata!.name!);
      }
    }
  }

  #notFound(collection: string, name: string): Refusal {
    const r = qualifiedResource(collection);
    return new Refusal(404, "NotFound", `${r.text} "${name}" not found`, {
      name,
      group: r.group,
      kind: r.plural,
    });
  }

  #coll(c: string): Map<string, KubeObject> {
    let m = this.#objects.get(c);
    if (!m) this.#objects.set(c, m = new Map());
    return m;
  }
}
