/**
 * Object keys and owner references: how objects map to the strings the work queue holds.
 * A key is `namespace/name`, or `name` for cluster-scoped objects, as in client-go's
 * `MetaNamespaceKeyFunc`.
 */
import type { OwnerReference } from "kubernetes-types/meta/v1";
import type { KubeObject } from "../kube/client.ts";
import { groupOf } from "../kube/resources.ts";

/** Anything with (optional) metadata name and namespace. */
export interface Keyed {
  /** The object's name and namespace. */
  metadata?: { name?: string; namespace?: string };
}

/** The queue key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: Keyed): string {
  const name = obj.metadata?.name ?? "";
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

/** Splits a key made by {@link objectKey}. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The namespace of a key ("" for a cluster-scoped `name`): the work queue's default fairness group. */
export function namespaceOfKey(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}

/** The owner reference with `controller: true`, if any (at most one may exist). */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** Whether two apiVersions name the same API group (the version is ignored, as controller-runtime does). */
export function sameGroup(a: string, b: string): boolean {
  return groupOf(a) === groupOf(b);
}

/**
 * The value of the `controller` index for an object owned by a controller of `kind`:
 * `<ownerKind>/<namespace>/<ownerName>`, with the child's namespace (empty for cluster-scoped
 * children). Use it with `informer.byIndex("controller", controllerIndexValue(...))`.
 */
export function controllerIndexValue(
  ownerKind: string,
  namespace: string | undefined,
  ownerName: string,
): string {
  return `${ownerKind}/${namespace ?? ""}/${ownerName}`;
}

/**
 * The queue key of the controller owner of `obj`, when that owner is of `owner` (group + kind;
 * the version is ignored). The owner's namespace is the child's, unless the owner kind is
 * cluster-scoped (`owner.namespaced === false`).
 */
export function ownerKey(
  obj: KubeObject,
  owner: { apiVersion: string; kind: string; namespaced?: boolean },
): string | undefined {
  const ref = controllerOf(obj);
  if (!ref || ref.kind !== owner.kind || !sameGroup(ref.apiVersion, owner.apiVersion)) return undefined;
  const ns = owner.namespaced === false ? undefined : obj.metadata?.namespace;
  return ns ? `${ns}/${ref.name}` : ref.name;
}
