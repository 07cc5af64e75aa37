/**
 * Builds the `involvedObject` reference of an event from an object body or a reference, and
 * decides the namespace the event lives in. The reference carries exactly apiVersion, kind, name,
 * namespace (empty for cluster-scoped objects) and uid, because that is what `kubectl describe`
 * matches on; resourceVersion is left out on purpose so a changing object stays one series.
 */
import { isDns1123Label } from "./normalize.ts";
import type { EventTarget } from "./types.ts";

/** The reference written into `involvedObject` (and `related`). */
export interface ObjectRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** Why an object cannot be the subject of an event. */
export type RefProblem = "no-kind" | "no-name" | "bad-namespace";

const str = (v: unknown): string | undefined => typeof v === "string" && v.length > 0 ? v : undefined;

/** Extracts the reference, or says why it is unusable. Never throws, whatever `obj` is. */
export function toRef(obj: EventTarget | undefined | null): ObjectRef | RefProblem {
  if (obj === null || typeof obj !== "object") return "no-kind";
  const o = obj as Record<string, unknown>;
  const meta = (typeof o.metadata === "object" && o.metadata !== null ? o.metadata : undefined) as
    | Record<string, unknown>
    | undefined;
  const kind = str(o.kind);
  if (!kind) return "no-kind";
  const name = str(meta?.name) ?? str(o.name);
  if (!name) return "no-name";
  const namespace = str(meta ? meta.namespace : o.namespace);
  if (namespace !== undefined && !isDns1123Label(namespace)) return "bad-namespace";
  const ref: ObjectRef = { kind, name };
  const apiVersion = str(o.apiVersion);
  if (apiVersion) ref.apiVersion = apiVersion;
  if (namespace) ref.namespace = namespace;
  const uid = str(meta ? meta.uid : o.uid);
  if (uid) ref.uid = uid;
  return ref;
}

/**
 * True for core/v1 Events and events.k8s.io Events (any version). An Event kind without an
 * apiVersion counts too: there is no other well-known `Event` kind, and a loop is the costlier mistake.
 */
export function isEventObject(ref: ObjectRef): boolean {
  if (ref.kind !== "Event") return false;
  const v = ref.apiVersion;
  return v === undefined || v === "v1" || v.startsWith("events.k8s.io/");
}

/** The identity of the object for dedup and budgets: the uid when known, else the full coordinates. */
export function refKey(ref: ObjectRef): string {
  // A uid names one object for its whole life (whatever apiVersion it is read through).
  if (ref.uid) return `${ref.kind}\u0001${ref.uid}`;
  return `${ref.apiVersion ?? ""}\u0001${ref.kind}\u0001${ref.namespace ?? ""}\u0001${ref.name}`;
}

/** `Kind ns/name` (or `Kind name`), for logs. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}
