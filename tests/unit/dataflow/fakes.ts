/**
 * In-memory stand-ins for the reconciler's dependencies: the reconciler's `KubeWrites` as a real
 * KubeClient over the unit tests' one API server (tests/tools/fake-apiserver.ts, so the
 * reconciler meets the server's rules: AlreadyExists, Conflict on a stale resourceVersion,
 * NotFound, generation, status subresource, finalizers keeping a deleted object), a cache view of
 * it, and an EventSink that records calls.
 */
import { KubeClient, type KubeObject, type ObjectLike } from "../../../lib/kube/client.ts";
import type { DeleteOptions, PatchOptions, ReadOptions, WriteOptions } from "../../../lib/kube/types.ts";
import { builtin, type ResourceType } from "../../../lib/kube/resources.ts";
import type { EventSink, EventTarget } from "../../../lib/events/mod.ts";
import type { DataFlowCache } from "../../../lib/dataflow/reconciler.ts";
import type { KubeWrites } from "../../../lib/dataflow/owned.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
import { secretKeysFromManagedFields } from "../../../lib/dataflow/secrets.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import type { Clock } from "../../../lib/time/clock.ts";
import { FakeApiServer } from "../../tools/fake-apiserver.ts";

/** One recorded (successful) write. */
export interface Write {
  verb: "create" | "replace" | "patch" | "delete";
  kind: string;
  name: string;
  subresource?: string;
  body?: unknown;
}

/** The server's collection of a resource type: `group/version/plural`. */
export function collectionOf(rt: ResourceType): string {
  return `${rt.apiVersion}/${rt.plural}`;
}

/**
 * The reconciler's API access over a {@link FakeApiServer} (the DataFlow CRD declared with its
 * status subresource), recording every successful write. `failNext` makes the next call of a
 * verb and kind (`"create Deployment"`, `"patch/status DataFlow"`) throw the given error before
 * anything is sent.
 */
export class FakeKube implements KubeWrites {
  readonly api: FakeApiServer;
  readonly client: KubeClient;
  readonly writes: Write[] = [];
  readonly failNext = new Map<string, Error>();

  constructor(clock?: Clock) {
    this.api = new FakeApiServer({ clock });
    this.api.define(collectionOf(DataFlowType), { custom: true, status: true });
    this.client = new KubeClient(this.api, { retry: { maxRetries: 0 }, registry: new Registry(), clock });
  }

  #maybeFail(verb: string, rt: ResourceType): void {
    const err = this.failNext.get(`${verb} ${rt.kind}`);
    if (err) {
      this.failNext.delete(`${verb} ${rt.kind}`);
      throw err;
    }
  }

  /** Stores an object as if created or changed by someone else (no write recorded). */
  seed<T extends KubeObject>(rt: ResourceType, obj: T): T {
    return this.api.put(collectionOf(rt), obj) as T;
  }

  /** Changes a stored object as another writer would (no write recorded). */
  edit<T extends ObjectLike>(rt: ResourceType, ns: string, name: string, change: (o: T) => void): T {
    const o = this.lookup<T>(rt, ns, name)!;
    change(o);
    return this.seed(rt, o as unknown as KubeObject) as unknown as T;
  }

  /** The stored object, if any. */
  lookup<T = KubeObject>(rt: ResourceType, ns: string, name: string): T | undefined {
    return this.api.object(collectionOf(rt), ns, name) as T | undefined;
  }

  async get<T = KubeObject>(rt: ResourceType, name: string, opts: ReadOptions = {}): Promise<T> {
    this.#maybeFail("get", rt);
    return await this.client.get<T>(rt, name, opts);
  }

  async create<T extends ObjectLike>(rt: ResourceType, obj: T, opts: WriteOptions = {}): Promise<T> {
    this.#maybeFail("create", rt);
    const out = await this.client.create(rt, obj, opts);
    this.writes.push({
      verb: "create",
      kind: rt.kind,
      name: obj.metadata!.name!,
      body: structuredClone(obj),
    });
    return out;
  }

  async replace<T extends ObjectLike>(
    rt: ResourceType,
    obj: T,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<T> {
    this.#maybeFail("replace", rt);
    const out = await this.client.replace(rt, obj, opts);
    this.writes.push({
      verb: "replace",
      kind: rt.kind,
      name: obj.metadata!.name!,
      body: structuredClone(obj),
    });
    return out;
  }

  async patch<T = KubeObject>(
    rt: ResourceType,
    name: string,
    body: unknown,
    opts: PatchOptions = {},
  ): Promise<T> {
    this.#maybeFail(opts.subresource ? `patch/${opts.subresource}` : "patch", rt);
    const out = await this.client.patch<T>(rt, name, body, opts);
    this.writes.push({
      verb: "patch",
      kind: rt.kind,
      name,
      subresource: opts.subresource,
      body: structuredClone(body),
    });
    return out;
  }

  async delete<T = KubeObject>(rt: ResourceType, name: string, opts: DeleteOptions = {}): Promise<T> {
    this.#maybeFail("delete", rt);
    const out = await this.client.delete<T>(rt, name, opts);
    this.writes.push({ verb: "delete", kind: rt.kind, name });
    return out;
  }

  /** Sets a Deployment's status, as the deployment controller would. */
  setDeploymentStatus(ns: string, name: string, status: Record<string, unknown>): void {
    this.edit<KubeObject>(builtin.Deployment, ns, name, (o) => {
      o.status = { observedGeneration: o.metadata!.generation, ...status };
    });
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
