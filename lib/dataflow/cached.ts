/**
 * What the operator's caches keep of each object (the informers' transforms), so its memory
 * stays bounded whatever tenants create: a DataFlow with a large spec (a big `avroSchema`) is
 * cached without its spec — only the Secret names it references, for the Secret watch — and the
 * reconcile reads the whole object from the API server when it needs it, holding it for that one
 * reconcile; an owned ConfigMap is cached with a hash of its data instead of the spec.json text,
 * which is all the comparison with the desired ConfigMap needs; an owned Deployment is cached with
 * only the fields the operator sets or reads (its projection on {@link DEPLOYMENT_MASK}), and the
 * reconcile reads the whole object before it updates one.
 *
 * The Deployments of one operator are built alike (buildDeployment): their pod templates differ in
 * a few names, and the rest (security contexts, resources, mounts, env, the init container's
 * arguments) is the same in thousands of them. The projection interns those parts ({@link shared}
 * in the mask, one {@link InternTable} per process, whose entries go with the last Deployment
 * using them), and the three label maps of a Deployment (its own, the selector's, the pod
 * template's) are kept once, so a cached Deployment holds little more than what is its own:
 * about half the memory of the plain projection. Shared parts are frozen: nothing may modify a
 * cached object (the reconcile compares it, and reads the whole object from the API server
 * before it writes).
 */
import { createHash } from "node:crypto";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { InternTable } from "../collections/intern.ts";
import { type Mask, project, shared } from "../collections/project.ts";
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

/**
 * What the reconcile compares of a container (the fields buildDeployment sets); the parts that are
 * the same in every Deployment of an operator are shared (the command names the DataFlow).
 */
const CONTAINER_MASK: Mask = {
  name: true,
  image: true,
  command: true,
  args: shared(),
  env: shared(),
  volumeMounts: shared(),
  resources: shared(),
  securityContext: shared(),
};

/**
 * The fields of an owned Deployment the reconcile reads: what `deploymentDiffers` compares (every
 * field `buildDeployment` sets, and the placement the operator owns outright), the identity and
 * ownership, and the status fields of the phase. Server defaults (terminationMessagePath,
 * dnsPolicy, revisionHistoryLimit, ...), annotations and status conditions are left out. The
 * parts most Deployments have alike are {@link shared}: the containers' parts but their names,
 * images and command, the pod's security context and placement, the strategy. Not the init
 * container whole, though it is often the same: with a Secret of its own per DataFlow it is
 * unique, and an entry of the table for a unique value costs more than the copy it replaces
 * (its key is the value's JSON text).
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
    selector: { matchLabels: true, matchExpressions: true },
    strategy: shared(),
    template: {
      metadata: { labels: true, annotations: true },
      spec: {
        automountServiceAccountToken: true,
        securityContext: shared(),
        initContainers: CONTAINER_MASK,
        containers: CONTAINER_MASK,
        volumes: true,
        nodeSelector: shared(),
        affinity: shared(),
        tolerations: shared(),
      },
    },
  },
  status: { replicas: true, readyReplicas: true, observedGeneration: true },
};

/**
 * The shared parts of the cached Deployments. Entries go when no cached Deployment uses them any
 * more (weak references), so the table follows the cache.
 */
const deploymentParts = new InternTable();

/**
 * The Deployment as the cache keeps it: its projection on {@link DEPLOYMENT_MASK}, with the parts
 * many Deployments have alike shared, and one frozen label map where the three are equal.
 */
export function slimDeployment<T extends KubeObject>(obj: T): T {
  const slim = project(obj as Deployment, DEPLOYMENT_MASK, deploymentParts) as Deployment & Slim;
  oneLabelMap(slim);
  slim[PARTIAL] = true;
  return slim as unknown as T;
}

/**
 * Makes the Deployment's, the selector's and the pod template's labels one frozen map where they
 * are equal (an operator-built Deployment has one label map three times). The projection copied
 * the objects holding them, so the caller's object is left as it was.
 */
function oneLabelMap(dep: Deployment): void {
  const metadata = dep.metadata, selector = dep.spec?.selector, template = dep.spec?.template?.metadata;
  if (!metadata?.labels) return;
  const sameInSelector = sameLabels(metadata.labels, selector?.matchLabels);
  const sameInTemplate = sameLabels(metadata.labels, template?.labels);
  if (!sameInSelector && !sameInTemplate) return;
  const labels = Object.freeze({ ...metadata.labels });
  metadata.labels = labels;
  if (sameInSelector) selector!.matchLabels = labels;
  if (sameInTemplate) template!.labels = labels;
}

/** Whether two label maps are equal (in the same order, as one shared map would read). */
function sameLabels(a: Record<string, string>, b: Record<string, string> | undefined): boolean {
  if (!b) return false;
  const keys = Object.keys(a), other = Object.keys(b);
  if (keys.length !== other.length) return false;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== other[i] || a[keys[i]] !== b[keys[i]]) return false;
  }
  return true;
}

/** Whether the cache holds only part of this object (see {@link slimDeployment}). */
export function isPartial(obj: object): boolean {
  return (obj as Slim)[PARTIAL] === true;
}
