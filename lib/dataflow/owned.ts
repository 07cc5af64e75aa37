/**
 * Creating or updating one owned object, writing only when it differs and never taking over an
 * object of the same name that this DataFlow does not control.
 */
import {
  builtin,
  isAlreadyExists,
  isNotFound,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from "../kube/mod.ts";
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import { isPartial } from "./cached.ts";
import { configMapDiffers, deploymentDiffers, mergeConfigMap, mergeDeployment } from "./diff.ts";
import { type DataFlowIdentity, FIELD_MANAGER, isControlledBy } from "./names.ts";

/** The client verbs the reconciler uses (a KubeClient, or a fake in unit tests). */
export type KubeWrites = Pick<KubeClient, "get" | "create" | "replace" | "patch" | "delete">;

/** An object of the desired name exists and is controlled by something else (or nothing). */
export class NotOwnedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotOwnedError";
  }
}

/** How one owned kind is compared and merged. */
export interface OwnedKind<T extends KubeObject> {
  rt: ResourceType;
  differs(existing: T, desired: T, df: DataFlowIdentity): boolean;
  merge(existing: T, desired: T): T;
}

/** The ConfigMap kind. */
export const ConfigMapKind: OwnedKind<ConfigMap & KubeObject> = {
  rt: builtin.ConfigMap,
  differs: (e, d, df) => configMapDiffers(e, d, df),
  merge: (e, d) => mergeConfigMap(e, d) as ConfigMap & KubeObject,
};

/** The Deployment kind. */
export const DeploymentKind: OwnedKind<Deployment & KubeObject> = {
  rt: builtin.Deployment,
  differs: (e, d, df) => deploymentDiffers(e, d, df),
  merge: (e, d) => mergeDeployment(e, d) as Deployment & KubeObject,
};

/** What {@link ensureOwned} did. */
export type OwnedAction = "created" | "updated" | "unchanged";

/**
 * Makes the live object match `desired`: create when absent, PUT (with the cached
 * resourceVersion, so a stale cache fails with a Conflict instead of clobbering) when it differs.
 * @param cached the informer's copy, or undefined when the informer has none (then the live object
 *   is read to tell "absent" from "ours, cache lagging" and "foreign")
 * @throws NotOwnedError when the existing object is not controlled by this DataFlow
 */
export async function ensureOwned<T extends KubeObject>(
  kind: OwnedKind<T>,
  cached: T | undefined,
  desired: T,
  df: DataFlowIdentity,
  client: KubeWrites,
  signal?: AbortSignal,
): Promise<{ object: T; action: OwnedAction }> {
  const name = desired.metadata!.name!;
  const namespace = desired.metadata!.namespace;
  let existing = cached;
  if (!existing) {
    // Not in the label-selected cache: either absent, just created (cache lag), or someone else's
    // unlabelled object. A read tells them apart without a write, so a DataFlow stuck behind a
    // foreign object costs one GET per reconcile, not a failing POST.
    existing = await client.get<T>(kind.rt, name, { namespace, signal }).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  }
  if (!existing) {
    try {
      const object = await client.create(kind.rt, desired, {
        namespace,
        fieldManager: FIELD_MANAGER,
        fieldValidation: "Strict",
        signal,
      });
      return { object, action: "created" };
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      existing = await client.get<T>(kind.rt, name, { namespace, signal });
    }
  }
  const notOwned = () =>
    new NotOwnedError(
      `${kind.rt.kind} ${namespace}/${name} already exists and is not owned by DataFlow ${df.metadata.name}; ` +
        `delete or rename it`,
    );
  if (!isControlledBy(existing, df.metadata.uid)) throw notOwned();
  let differs = kind.differs(existing, desired, df);
  if (differs && isPartial(existing)) {
    // The cache keeps only what the comparison needs; the PUT must carry the whole object, so
    // that fields others set (annotations, revisionHistoryLimit, ...) survive it.
    existing = await client.get<T>(kind.rt, name, { namespace, signal });
    if (!isControlledBy(existing, df.metadata.uid)) throw notOwned();
    differs = kind.differs(existing, desired, df);
  }
  if (!differs) return { object: existing, action: "unchanged" };
  // Strict: an unknown field (a typo inside spec.affinity, which the CRD keeps free-form) is
  // refused rather than pruned, so the user gets DeploymentFailed instead of a silently ignored
  // setting, and the stored object cannot differ from the desired one forever after.
  const object = await client.replace(kind.rt, kind.merge(existing, desired), {
    namespace,
    fieldManager: FIELD_MANAGER,
    fieldValidation: "Strict",
    signal,
  });
  return { object, action: "updated" };
}
