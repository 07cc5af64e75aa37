/**
 * The finalizer protocol around a reconcile, as kube-rs' `finalizer()` helper: an object the
 * operator manages carries its finalizer, so the API server keeps it after a delete until the
 * operator has cleaned up what the object stands for.
 *
 * | object                                   | what {@link finalizer} does                          |
 * | ---------------------------------------- | ---------------------------------------------------- |
 * | live, without the finalizer              | adds it, then `apply` on the object the patch returned |
 * | live, with the finalizer                 | `apply`                                              |
 * | being deleted, with the finalizer        | `cleanup`, then removes the finalizer                |
 * | being deleted, without the finalizer     | nothing: it is not ours to hold                      |
 *
 * Two differences from kube-rs. After adding the finalizer, `apply` runs at once on the patched
 * object instead of waiting for the watch to deliver it: a new object costs one reconcile, not
 * two. And the patches are JSON merge patches carrying the object's resourceVersion (as
 * controller-runtime's `AddFinalizer` + `Update`), so a stale read fails with 409 Conflict rather
 * than adding to, or removing from, a finalizer list it never saw.
 *
 * Errors of `apply`, `cleanup` and the patches propagate unchanged, so the controller's error
 * handling (a quiet retry on Conflict, backoff, the API-failure sweep) sees the API's typed
 * errors. A failed `cleanup` keeps the finalizer, and with it the object, until a retry succeeds.
 */
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";

/** The client verb the helper writes with (a KubeClient, or a fake in unit tests). */
export type FinalizerWrites = Pick<KubeClient, "patch">;

/** Which way a finalizer patch went. */
export type FinalizerChange = "added" | "removed";

/** Where and how {@link finalizer} writes. */
export interface FinalizerOptions<T extends KubeObject> {
  /** The client the finalizer patches go through. */
  client: FinalizerWrites;
  /** The object's resource type. */
  resource: ResourceType;
  /** The finalizer's name, `<domain>/<name>` (e.g. `example.com/cleanup`). */
  name: string;
  /** The field manager of the patches. */
  fieldManager?: string;
  /** Aborts the patches (the reconcile's signal). */
  signal?: AbortSignal;
  /**
   * Told of each finalizer patch that succeeded, with the version it replaced and the object the
   * API server returned: for the operator's log line and its read-your-own-writes overlay.
   */
  onPatch?: (change: FinalizerChange, before: T, after: T) => void;
}

/** What a reconcile does around the finalizer. */
export interface FinalizerHandlers<T extends KubeObject, R> {
  /** Brings the world in line with the live object, which carries the finalizer. */
  apply(obj: T): Promise<R>;
  /**
   * Undoes what the object stands for; the finalizer is removed once this resolves. Resolves
   * with the object's newer version when cleanup itself wrote to it (a status patch), so the
   * removal carries the current resourceVersion.
   */
  cleanup(obj: T): Promise<T | void>;
}

/** Whether the object's finalizers include `name`. */
export function hasFinalizer(obj: KubeObject, name: string): boolean {
  return (obj.metadata?.finalizers ?? []).includes(name);
}

/** Whether the object is being deleted (the API server set its deletionTimestamp). */
export function isDeleting(obj: KubeObject): boolean {
  return Boolean(obj.metadata?.deletionTimestamp);
}

/**
 * Runs `apply` or `cleanup` for `obj` under the finalizer `options.name` (see the module's
 * table). Resolves with what `apply` returned, or undefined when the object was being deleted.
 */
export async function finalizer<T extends KubeObject, R>(
  options: FinalizerOptions<T>,
  obj: T,
  handlers: FinalizerHandlers<T, R>,
): Promise<R | undefined> {
  if (isDeleting(obj)) {
    if (!hasFinalizer(obj, options.name)) return undefined;
    const latest = (await handlers.cleanup(obj)) ?? obj;
    const finalizers = (latest.metadata?.finalizers ?? []).filter((f) => f !== options.name);
    try {
      const released = await patchFinalizers(options, latest, finalizers);
      options.onPatch?.("removed", latest, released);
    } catch (err) {
      // Gone already: nothing holds it any more, which is what the removal was for.
      if (!isNotFound(err)) throw err;
    }
    return undefined;
  }
  let current = obj;
  if (!hasFinalizer(obj, options.name)) {
    current = await patchFinalizers(options, obj, [...(obj.metadata?.finalizers ?? []), options.name]);
    options.onPatch?.("added", obj, current);
  }
  return await handlers.apply(current);
}

/** A merge patch of the finalizer list, conditional on the version it was computed from. */
function patchFinalizers<T extends KubeObject>(
  options: FinalizerOptions<T>,
  obj: T,
  finalizers: string[],
): Promise<T> {
  const metadata = obj.metadata ?? {};
  return options.client.patch<T>(
    options.resource,
    metadata.name ?? "",
    { metadata: { resourceVersion: metadata.resourceVersion, finalizers } },
    {
      namespace: metadata.namespace,
      type: "merge",
      fieldManager: options.fieldManager,
      signal: options.signal,
    },
  );
}
