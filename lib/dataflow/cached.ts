/**
 * What the operator's caches keep of each object (the informers' transforms), so its memory
 * stays bounded whatever tenants create: a DataFlow with a large spec (a big `avroSchema`) is
 * cached without its spec — only the Secret names it references, for the Secret watch — and the
 * reconcile reads the whole object from the API server when it needs it, holding it for that one
 * reconcile; an owned ConfigMap is cached with a hash of its data instead of the spec.json text,
 * which is all the comparison with the desired ConfigMap needs; an owned Deployment is cached with
 * only the fields the operator sets or reads (its projection on {@link DEPLOYMENT_MASK}), and the
 * reconcile reads the whole object before it updates one.
 */
import { createHash } from "node:crypto";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { type Mask, project } from "../collections/project.ts";
import type { KubeObject } from "../kube/mod.ts";
import type { DataFlow, DataFlowSpec } from "./schema.ts";
import { collectSecretRefs } from "./secrets.ts";

/** A spec longer than this as JSON (bytes of UTF-16 code units) is not kept in the cache. */
export const LARGE_SPEC_BYTES = 16 * 1024;

/** The Secret names of a DataFlow cached without its spec. */
const SECRET_NAMES = Symbol("referencedSecretNames");
/** The hash of a cached ConfigMap's data. */
const DATA_HASH = Symbol("dataHash");

/** Marks an object the cache holds in part: read the whole one before writing it back. */
const PARTIAL = Symbol("partial");

type Slim = { [SECRET_NAMES]?: string[]; [DATA_HASH]?: string; [PARTIAL]?: true };

/** The Secret names a stored DataFlow references in its namespace (also for a spec that fails validation). */
export function referencedSecrets(df: DataFlow): Set<string> {
  const cached = (df as Slim)[SECRET_NAMES];
  if (cached) return new Set(cached);
  if (!df.spec || typeof df.spec !== "object") return new Set();
  const ns = df.metadata.namespace;
  const uses = collectSecretRefs(df.spec as DataFlowSpec).filter((u) =>
    !u.ref.namespace || u.ref.namespace === ns
  );
  return new Set(uses.map((u) => u.ref.name));
}

/** The DataFlow as the cache keeps it: unchanged, or without a large spec (see {@link specElided}). */
export function slimDataFlow<T extends KubeObject>(obj: T): T {
  const df = obj as unknown as DataFlow;
  if (!df.spec || JSON.stringify(df.spec).length <= LARGE_SPEC_BYTES) return obj;
  const names = [...referencedSecrets(df)];
  const slim = { ...df, spec: undefined } as unknown as DataFlow & Slim;
  slim[SECRET_NAMES] = names;
  return slim as unknown as T;
}

/** Whether the cache holds this DataFlow without its spec (read it from the API server). */
export function specElided(df: DataFlow): boolean {
  return df.spec === undefined && (df as Slim)[SECRET_NAMES] !== undefined;
}

/** The hash of ConfigMap data, as compared by the reconcile. */
export function dataHash(data: Record<string, string> | undefined): string {
  return createHash("sha256").update(JSON.stringify(data ?? {})).digest("base64");
}

/** The ConfigMap as the cache keeps it: its data replaced by {@link dataHash}. */
export function slimConfigMap<T extends KubeObject>(obj: T): T {
  const cm = obj as unknown as ConfigMap & Slim;
  const slim = { ...cm, data: undefined } as ConfigMap & Slim;
  slim[DATA_HASH] = dataHash(cm.data);
  return slim as unknown as T;
}

/** The data hash of a ConfigMap, cached (slim) or read from the API server (whole). */
export function dataHashOf(cm: ConfigMap): string {
  return (cm as Slim)[DATA_HASH] ?? dataHash(cm.data);
}

/** What the reconcile compares of a container (the fields buildDeployment sets). */
const CONTAINER_MASK: Mask = {
  name: true,
  image: true,
  command: true,
  args: true,
  env: true,
  volumeMounts: true,
  resources: true,
  securityContext: true,
};

/**
 * The fields of an owned Deployment the reconcile reads: what `deploymentDiffers` compares (every
 * field `buildDeployment` sets, and the placement the operator owns outright), the identity and
 * ownership, and the status fields of the phase. Server defaults (terminationMessagePath,
 * dnsPolicy, revisionHistoryLimit, ...), annotations and status conditions are left out.
 */
export const DEPLOYMENT_MASK: Mask = {
  apiVersion: true,
  kind: true,
  metadata: {
    name: true,
    namespace: true,
    uid: true,
    resourceVersion: true,
    generation: true,
    deletionTimestamp: true,
    labels: true,
    ownerReferences: true,
  },
  spec: {
    replicas: true,
    selector: true,
    strategy: true,
    template: {
      metadata: { labels: true, annotations: true },
      spec: {
        automountServiceAccountToken: true,
        securityContext: true,
        initContainers: CONTAINER_MASK,
        containers: CONTAINER_MASK,
        volumes: true,
        nodeSelector: true,
        affinity: true,
        tolerations: true,
      },
    },
  },
  status: { replicas: true, readyReplicas: true, observedGeneration: true },
};

/** The Deployment as the cache keeps it: its projection on {@link DEPLOYMENT_MASK}. */
export function slimDeployment<T extends KubeObject>(obj: T): T {
  const slim = project(obj as Deployment, DEPLOYMENT_MASK) as Deployment & Slim;
  slim[PARTIAL] = true;
  return slim as unknown as T;
}

/** Whether the cache holds only part of this object (see {@link slimDeployment}). */
export function isPartial(obj: object): boolean {
  return (obj as Slim)[PARTIAL] === true;
}
