/**
 * The cleanup of a DataFlow being deleted, before its finalizer goes: delete the Deployment and
 * ConfigMap it controls (a foreign object of the same name stays), say what was deleted, and set
 * phase Stopped. The finalizer helper removes the finalizer once this resolves.
 */
import { builtin, isNotFound, type KubeObject } from "../kube/mod.ts";
import { configMapName, deploymentName, isControlledBy } from "./names.ts";
import {
  emit,
  errorText,
  failureText,
  logWrite,
  type ReconcileScope,
  updateStatus,
} from "./reconcile-context.ts";
import type { DataFlow } from "./schema.ts";

/**
 * Deletes what `dying` controls and reports it; resolves with the DataFlow's latest version (after
 * the Stopped status), for the finalizer's removal. Throws, after a CleanupFailed Warning, when a
 * delete fails: the finalizer then stays and the reconcile is retried.
 */
export async function cleanupDataFlow(scope: ReconcileScope, dying: DataFlow): Promise<DataFlow> {
  const { ctx, namespace, name } = scope;
  const deleted: string[] = [];
  try {
    for (
      const [rt, objName] of [[builtin.Deployment, deploymentName(name)], [
        builtin.ConfigMap,
        configMapName(name),
      ]] as const
    ) {
      // A live read, not the cache: an object created moments ago must not leak.
      let live: KubeObject;
      try {
        live = await ctx.client.get(rt, objName, { namespace, signal: scope.signal });
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      if (!isControlledBy(live, dying.metadata.uid)) continue;
      try {
        await ctx.client.delete(rt, objName, {
          namespace,
          preconditions: { uid: live.metadata?.uid },
          signal: scope.signal,
        });
        deleted.push(rt.kind);
        logWrite(scope, "deleted", rt.kind, objName);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  } catch (err) {
    emit(scope, dying, "Warning", "CleanupFailed", `Failed to cleanup resources: ${failureText(scope, err)}`);
    throw err;
  }
  // Only what was really deleted: the Go operator's text when both objects were the operator's
  // ("Deleted Deployment and ConfigMap"), the one kind when only one was, no event when neither
  // was (foreign objects, or a retry after the deletes already happened).
  if (deleted.length) emit(scope, dying, "Normal", "ResourcesDeleted", `Deleted ${deleted.join(" and ")}`);
  try {
    return await updateStatus(scope, dying, {
      phase: "Stopped",
      message: "DataFlow is being deleted",
      reason: "Deleting",
    });
  } catch (err) {
    // The object is going away; a failed Stopped status must not keep the finalizer.
    scope.log.warning("could not set phase Stopped on {dataflow_namespace}/{dataflow_name}: {error}", {
      error: errorText(err),
    });
    return dying;
  }
}
