/**
 * In-memory stand-ins for the reconciler's dependencies: an object store with the API server's
 * optimistic-concurrency rules (AlreadyExists, Conflict on a stale resourceVersion, NotFound,
 * status subresource, finalizers keeping a deleted object), a cache view of it, and an EventSink
 * that records calls. Errors are the client's real typed errors.
 */
import { errorFromResponse } from "../../../lib/kube/errors.ts";
import type { KubeObject, ObjectLike } from "../../../lib/kube/client.ts";
import { builtin, type ResourceType } from "../../../lib/kube/resources.ts";
import type { EventSink, EventTarget } from "../../../lib/events/mod.ts";
import type { DataFlowCache } from "../../../lib/dataflow/reconciler.ts";
import type { KubeWrites } from "../../../lib/dataflow/owned.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
import { secretKeysFromManagedFields } from "../../../lib/dataflow/secrets.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";

function apiError(code: number, reason: string, message: string) {
  return errorFromResponse(code, { kind: "Status", code, reason, message }, "FAKE");
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === "object" && !Array.isArray(target)
    ? { ...(target as Record<string, unknown>) }
    : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** One recorded write. */
export interface Write {
  verb: "create" | "replace" | "patch" | "delete";
  kind: string;
  name: string;
  subresource?: string;
  body?: unknown;
}

/** An in-memory API server for a few kinds. */
export class FakeKube implements KubeWrites {
  objects = new Map<string, KubeObject>();
  writes: Write[] = [];
  #rv = 100;
  #uid = 0;
  /** Make the next call of this verb+kind fail with this error. */
  failNext = new Map<string, Error>();

  #key(rt: ResourceType, ns: string | undefined, name: string) {
    return `${rt.kind}/${ns ?? ""}/${name}`;
  }
  #maybeFail(verb: string, rt: ResourceType) {
    const err = this.failNext.get(`${verb} ${rt.kind}`);
    if (err) {
      this.failNext.delete(`${verb} ${rt.kind}`);
      throw err;
    }
  }

  /** Stores an object as if created by someone else (no write recorded). */
  seed<T extends KubeObject>(rt: ResourceType, obj: T): T {
    const o = structuredClone(obj) as KubeObject;
    o.metadata = {
      uid: `uid-${++this.#uid}`,
      generation: 1,
      ...o.metadata,
      resourceVersion: String(++this.#rv),
    };
    this.objects.set(this.#key(rt, o.metadata.namespace, o.metadata.name!), o);
    return structuredClone(o) as T;
  }

  lookup<T = KubeObject>(rt: ResourceType, ns: string, name: string): T | undefined {
    const o = this.objects.get(this.#key(rt, ns, name));
    return o ? structuredClone(o) as T : undefined;
  }

  get<T = KubeObject>(rt: ResourceType, name: string, opts: { namespace?: string } = {}): Promise<T> {
    this.#maybeFail("get", rt);
    const o = this.lookup<T>(rt, opts.namespace ?? "default", name);
    if (!o) return Promise.reject(apiError(404, "NotFound", `${rt.plural} "${name}" not found`));
    return Promise.resolve(o);
  }

  create<T extends ObjectLike>(rt: ResourceType, obj: T, opts: { namespace?: string } = {}): Promise<T> {
    this.#maybeFail("create", rt);
    const ns = opts.namespace ?? obj.metadata?.namespace;
    const key = this.#key(rt, ns, obj.metadata!.name!);
    if (this.objects.has(key)) {
      return Promise.reject(
        apiError(409, "AlreadyExists", `${rt.plural} "${obj.metadata!.name}" already exists`),
      );
    }
    this.writes.push({
      verb: "create",
      kind: rt.kind,
      name: obj.metadata!.name!,
      body: structuredClone(obj),
    });
    return Promise.resolve(
      this.seed(
        rt,
        { ...obj, metadata: { ...obj.metadata, namespace: ns } } as unknown as KubeObject,
      ) as unknown as T,
    );
  }

  replace<T extends ObjectLike>(rt: ResourceType, obj: T, opts: { namespace?: string } = {}): Promise<T> {
    this.#maybeFail("replace", rt);
    const ns = opts.namespace ?? obj.metadata?.namespace;
    const key = this.#key(rt, ns, obj.metadata!.name!);
    const cur = this.objects.get(key);
    if (!cur) return Promise.reject(apiError(404, "NotFound", "not found"));
    if (obj.metadata?.resourceVersion !== cur.metadata!.resourceVersion) {
      return Promise.reject(apiError(409, "Conflict", "the object has been modified"));
    }
    this.writes.push({
      verb: "replace",
      kind: rt.kind,
      name: obj.metadata!.name!,
      body: structuredClone(obj),
    });
    const next = structuredClone(obj) as unknown as KubeObject;
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(cur.spec);
    next.metadata = {
      ...next.metadata,
      uid: cur.metadata!.uid,
      resourceVersion: String(++this.#rv),
      generation: (cur.metadata!.generation ?? 1) + (specChanged ? 1 : 0),
    };
    if (rt.kind === "Deployment" || rt === DataFlowType) next.status = cur.status; // status is a subresource
    this.objects.set(key, next);
    return Promise.resolve(structuredClone(next) as unknown as T);
  }

  patch<T = KubeObject>(
    rt: ResourceType,
    name: string,
    body: unknown,
    opts: { namespace?: string; subresource?: string } = {},
  ): Promise<T> {
    this.#maybeFail(opts.subresource ? `patch/${opts.subresource}` : "patch", rt);
    const key = this.#key(rt, opts.namespace, name);
    const cur = this.objects.get(key);
    if (!cur) return Promise.reject(apiError(404, "NotFound", "not found"));
    const b = body as KubeObject;
    if (b.metadata?.resourceVersion && b.metadata.resourceVersion !== cur.metadata!.resourceVersion) {
      return Promise.reject(apiError(409, "Conflict", "the object has been modified"));
    }
    this.writes.push({
      verb: "patch",
      kind: rt.kind,
      name,
      subresource: opts.subresource,
      body: structuredClone(body),
    });
    let next: KubeObject;
    if (opts.subresource === "status") next = { ...cur, status: mergePatch(cur.status, b.status) };
    else {
      const { status: _ignored, ...rest } = b;
      next = mergePatch(cur, rest) as KubeObject;
      if (rt.kind === "Deployment" || rt === DataFlowType) next.status = cur.status;
    }
    next.metadata = { ...next.metadata, resourceVersion: String(++this.#rv) };
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length) this.objects.delete(key);
    else this.objects.set(key, next);
    return Promise.resolve(structuredClone(next) as T);
  }

  delete<T = KubeObject>(rt: ResourceType, name: string, opts: { namespace?: string } = {}): Promise<T> {
    this.#maybeFail("delete", rt);
    const key = this.#key(rt, opts.namespace, name);
    const cur = this.objects.get(key);
    if (!cur) return Promise.reject(apiError(404, "NotFound", "not found"));
    this.writes.push({ verb: "delete", kind: rt.kind, name });
    if ((cur.metadata!.finalizers ?? []).length) {
      cur.metadata = {
        ...cur.metadata,
        deletionTimestamp: new Date().toISOString(),
        resourceVersion: String(++this.#rv),
      };
    } else this.objects.delete(key);
    return Promise.resolve({} as T);
  }

  /** Sets a Deployment's status, as the deployment controller would. */
  setDeploymentStatus(ns: string, name: string, status: Record<string, unknown>) {
    const o = this.objects.get(`Deployment/${ns}/${name}`)!;
    o.status = { observedGeneration: o.metadata!.generation, ...status };
    o.metadata = { ...o.metadata, resourceVersion: String(++this.#rv) };
  }
}

/** A cache that always reflects the fake store (an informer with no lag). */
export function cacheOf(kube: FakeKube, secretsRt: ResourceType): DataFlowCache & { broken?: Error } {
  const c: DataFlowCache & { broken?: Error } = {
    dataflow(ns, name) {
      if (c.broken) throw c.broken;
      return kube.lookup<DataFlow>(DataFlowType, ns, name);
    },
    configMap: (ns, name) => kube.lookup(builtin.ConfigMap, ns, name),
    deployment: (ns, name) => kube.lookup(builtin.Deployment, ns, name),
    secret(ns, name) {
      const s = kube.lookup<KubeObject>(secretsRt, ns, name);
      if (!s) return undefined;
      return {
        name,
        resourceVersion: s.metadata!.resourceVersion!,
        keys: secretKeysFromManagedFields(s.metadata!.managedFields as never),
      };
    },
  };
  return c;
}

/** One recorded event call. */
export interface RecordedEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  target: EventTarget;
}

/** An EventSink that records every call. */
export class FakeEvents implements EventSink {
  calls: RecordedEvent[] = [];
  event(obj: EventTarget, f: { type?: string; reason: string; message: string }) {
    this.calls.push({
      type: f.type === "Warning" ? "Warning" : "Normal",
      reason: f.reason,
      message: f.message,
      target: obj,
    });
  }
  info(obj: EventTarget, reason: string, message: string) {
    this.calls.push({ type: "Normal", reason, message, target: obj });
  }
  warn(obj: EventTarget, reason: string, message: string) {
    this.calls.push({ type: "Warning", reason, message, target: obj });
  }
  exception(obj: EventTarget, reason: string, message: string, error?: unknown) {
    this.calls.push({ type: "Warning", reason, message: `${message}: ${error}`, target: obj });
  }
  reasons(): string[] {
    return this.calls.map((c) => c.reason);
  }
}

/** A Secret as kubectl creates it: its keys show up in managedFields. */
export function secretWithKeys(ns: string, name: string, keys: string[]): KubeObject {
  const fields: Record<string, unknown> = { ".": {} };
  for (const k of keys) fields[`f:${k}`] = {};
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: ns,
      managedFields: [{ manager: "kubectl-create", operation: "Update", fieldsV1: { "f:data": fields } }],
    },
  };
}
