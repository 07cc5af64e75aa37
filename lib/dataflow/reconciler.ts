/**
 * The DataFlow reconciler: reads the caches, computes the desired objects (pure builders, secret
 * resolution, status), writes only what differs through a `KubeWrites` client, and emits exactly
 * the documented events. It needs no network of its own: unit tests hand it in-memory caches and
 * a fake client.
 *
 * One reconcile ({@link reconcileDataFlow}) reads the DataFlow from the cache through the
 * read-your-own-writes overlay, then runs under the runtime's finalizer helper: the finalizer is
 * added before anything else is written, `applyDataFlow` (reconcile-apply.ts) checks the spec and
 * writes the ConfigMap, the Deployment and the status, and on deletion `cleanupDataFlow`
 * (reconcile-cleanup.ts) removes what the DataFlow controls before the finalizer goes.
 *
 * Events: a Normal event for each create/update/delete actually done; a Warning when a failure
 * first appears or its message changes (the status message is the memory), so a persisting failure
 * retried with backoff, or an idle resync, does not repeat it.
 *
 * Logs: one info line per write (`created Deployment team-a/dataflow-x for DataFlow team-a/x`,
 * the finalizer and status patches too; an unchanged DataFlow writes nothing, so an idle resync
 * logs nothing); a warning when a failure appears or changes, in the words of its status message;
 * the HTTP request behind a failure at debug. Event emissions are logged (at debug) by the
 * recorder, once each.
 */
import { finalizer, type FinalizerChange, isDeleting, type ReconcileResult } from "../runtime/mod.ts";
import { applyDataFlow } from "./reconcile-apply.ts";
import { cleanupDataFlow } from "./reconcile-cleanup.ts";
import {
  type DataFlowRequest,
  emit,
  type ReconcilerContext,
  type ReconcileScope,
  reconcileScope,
} from "./reconcile-context.ts";
import { API_VERSION, DataFlowType, FIELD_MANAGER, FINALIZER, KIND } from "./names.ts";
import type { DataFlow } from "./schema.ts";

export {
  type DataFlowCache,
  type DataFlowRequest,
  type ReconcilerContext,
  reconcilerContext,
  type ReconcilerDeps,
} from "./reconcile-context.ts";

/** Reconciles one DataFlow: what it asks for when live, its cleanup when it is being deleted. */
export async function reconcileDataFlow(
  ctx: ReconcilerContext,
  req: DataFlowRequest,
): Promise<ReconcileResult> {
  const scope = reconcileScope(ctx, req);
  const df = readDataFlow(scope);
  if (!df) {
    ctx.metrics.forget(scope.namespace, scope.name);
    scope.log.debug("DataFlow {dataflow_namespace}/{dataflow_name} is gone; nothing to do");
    return;
  }
  const result = await finalizer(
    {
      client: ctx.client,
      resource: DataFlowType,
      name: FINALIZER,
      fieldManager: FIELD_MANAGER,
      signal: scope.signal,
      onPatch: (change, before, after) => finalizerPatched(scope, change, before, after),
    },
    df,
    { apply: (obj) => applyDataFlow(scope, obj), cleanup: (obj) => cleanupDataFlow(scope, obj) },
  );
  // Released (or not ours to hold): the DataFlow is about to go, and its phase series with it.
  if (isDeleting(df)) ctx.metrics.forget(scope.namespace, scope.name);
  return result;
}

/**
 * The DataFlow to act on: the cache's copy, or the object the operator's own last write returned
 * while the cache still shows a version that write replaced. A failing cache read is reported as
 * FailedGet on a reference to the DataFlow (there is no object to point at).
 */
function readDataFlow(scope: ReconcileScope): DataFlow | undefined {
  const { ctx, namespace, name } = scope;
  let cached: DataFlow | undefined;
  try {
    cached = ctx.cache.dataflow(namespace, name);
  } catch (err) {
    emit(
      scope,
      { apiVersion: API_VERSION, kind: KIND, namespace, name },
      "Warning",
      "FailedGet",
      "Unable to fetch DataFlow",
    );
    throw err;
  }
  return ctx.ownWrites.read(scope.key, cached);
}

/** The info line of a finalizer patch; an added finalizer is an own write the cache has not seen yet. */
function finalizerPatched(
  scope: ReconcileScope,
  change: FinalizerChange,
  before: DataFlow,
  after: DataFlow,
): void {
  if (change === "added") {
    scope.ctx.ownWrites.record(scope.key, before, after);
    scope.log.info("added finalizer {finalizer} to DataFlow {dataflow_namespace}/{dataflow_name}", {
      finalizer: FINALIZER,
    });
  } else {
    scope.log.info("removed finalizer {finalizer} from DataFlow {dataflow_namespace}/{dataflow_name}", {
      finalizer: FINALIZER,
    });
  }
}
