/**
 * "Write only what differs": whether an existing owned object already matches the desired one,
 * and the object to PUT when it does not.
 *
 * The Go operator compared the API-defaulted Deployment spec with an undefaulted desired spec, so
 * on a real server every reconcile updated the Deployment. Here the desired object must be a
 * *subset* of the existing one (fields the server or other tools added are ignored), quantities
 * compare by value (`0.5` equals `500m`), and the few fields the operator owns outright
 * (placement) must be absent when the desired object has none.
 */
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import { dataHash, dataHashOf } from "./cached.ts";
import { type DataFlowIdentity, isControlledBy } from "./names.ts";

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity, or undefined when it is not one. */
export function quantityValue(q: unknown): number | undefined {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return undefined;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m || !(m[2] in SUFFIX)) return undefined;
  return Number(m[1]) * SUFFIX[m[2]];
}

function quantitiesEqual(a: unknown, b: unknown): boolean {
  const x = quantityValue(a), y = quantityValue(b);
  return x !== undefined && y !== undefined && Math.abs(x - y) <= Math.abs(x) * 1e-12;
}

/**
 * Where {@link isSubset} is: 0 anywhere, 1 under a `resources` field, 2 under its `limits` or
 * `requests` (whose values compare as quantities).
 */
type Within = 0 | 1 | 2;

function within(at: Within, key: string): Within {
  if (key === "resources") return 1;
  if (at === 2 || (at === 1 && (key === "limits" || key === "requests"))) return 2;
  return 0;
}

/**
 * Whether every field of `desired` is present with an equal value in `existing` (objects
 * recursively; arrays must have the same length, element by element). Values under
 * `resources.limits` and `resources.requests` compare as quantities (`0.5` equals `500m`).
 */
export function isSubset(desired: unknown, existing: unknown): boolean {
  return subset(desired, existing, 0);
}

function subset(desired: unknown, existing: unknown, at: Within): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(existing) || desired.length !== existing.length) return false;
    for (let i = 0; i < desired.length; i++) if (!subset(desired[i], existing[i], 0)) return false;
    return true;
  }
  if (desired && typeof desired === "object") {
    if (!existing || typeof existing !== "object" || Array.isArray(existing)) return false;
    for (const k in desired) {
      const v = (desired as Record<string, unknown>)[k];
      if (!subset(v, (existing as Record<string, unknown>)[k], within(at, k))) return false;
    }
    return true;
  }
  if (desired === existing) return true;
  return at === 2 && quantitiesEqual(desired, existing);
}

/** The placement fields of the pod template that follow the spec exactly (absent when the spec has none). */
const OWNED_POD_FIELDS = ["nodeSelector", "affinity", "tolerations"] as const;

function emptyish(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "object" && Object.keys(v as object).length === 0);
}

type Meta = { metadata?: ConfigMap["metadata"] };

function labelsAndOwnerMatch(desired: Meta, existing: Meta, df: DataFlowIdentity): boolean {
  return isSubset(desired.metadata?.labels, existing.metadata?.labels ?? {}) &&
    isControlledBy(existing, df.metadata.uid);
}

/**
 * Whether the existing ConfigMap differs from the desired one (data, labels, owner); the existing
 * one may be the cache's, which holds a hash of the data instead of the data (cached.ts).
 */
export function configMapDiffers(existing: ConfigMap, desired: ConfigMap, df: DataFlowIdentity): boolean {
  const sameData = dataHashOf(existing) === dataHash(desired.data) && !existing.binaryData;
  return !sameData || !labelsAndOwnerMatch(desired, existing, df);
}

/** The ConfigMap to PUT: the existing object (keeping others' labels and annotations) with our data. */
export function mergeConfigMap(existing: ConfigMap, desired: ConfigMap): ConfigMap {
  return {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
    },
    data: desired.data,
    binaryData: undefined,
  };
}

/**
 * Whether the existing Deployment differs from the desired one. `replicas` is not compared, so a
 * `kubectl scale` to 0 (pausing a flow) survives; the pod template, strategy, labels and owner are.
 */
export function deploymentDiffers(existing: Deployment, desired: Deployment, df: DataFlowIdentity): boolean {
  const dt = desired.spec!.template, et = existing.spec?.template;
  if (!labelsAndOwnerMatch(desired, existing, df)) return true;
  if (!isSubset(desired.spec!.strategy, existing.spec?.strategy)) return true;
  if (!isSubset(dt.metadata, et?.metadata)) return true;
  if (!isSubset(dt.spec, et?.spec)) return true;
  const epod = (et?.spec ?? {}) as Record<string, unknown>;
  const dpod = (dt.spec ?? {}) as Record<string, unknown>;
  return OWNED_POD_FIELDS.some((f) => dpod[f] === undefined && !emptyish(epod[f]));
}

/**
 * The Deployment to PUT: the existing object with our labels merged, the desired strategy and pod
 * template (template annotations merged, so `kubectl rollout restart` stamps survive), its
 * replicas and selector kept (the selector is immutable).
 */
export function mergeDeployment(existing: Deployment, desired: Deployment): Deployment {
  const et = existing.spec?.template;
  const dt = desired.spec!.template;
  return {
    ...existing,
    metadata: { ...existing.metadata, labels: { ...existing.metadata?.labels, ...desired.metadata?.labels } },
    spec: {
      ...existing.spec!,
      replicas: existing.spec?.replicas ?? desired.spec!.replicas,
      selector: existing.spec?.selector ?? desired.spec!.selector,
      strategy: desired.spec!.strategy,
      template: {
        metadata: {
          ...et?.metadata,
          labels: { ...et?.metadata?.labels, ...dt.metadata?.labels },
          annotations: { ...et?.metadata?.annotations, ...dt.metadata?.annotations },
        },
        spec: dt.spec,
      },
    },
  };
}
