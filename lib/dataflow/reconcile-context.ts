/**
 * What the DataFlow reconciler works with: its long-lived context (caches, client, event sink,
 * settings, the read-your-own-writes overlay), the scope of one reconcile (which DataFlow, its
 * log, the abort signal), and the reporting every step shares: events, the info line of a write,
 * failure wording, the status write and the record of a failure.
 */
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import { ApiError, isConflict, isNotFound, type KubeObject } from "../kube/mod.ts";
import type { EventSink, EventTarget } from "../events/mod.ts";
import { type Logger, logger } from "../observe/mod.ts";
import { type Clock, realClock } from "../time/mod.ts";
import { OwnWrites } from "../runtime/mod.ts";
import type { ProcessorSettings } from "./builders.ts";
import { slimDataFlow } from "./cached.ts";
import { DataFlowStatusMetric } from "./metrics.ts";
import { DataFlowType, FIELD_MANAGER } from "./names.ts";
import type { KubeWrites } from "./owned.ts";
import { DEFAULT_PROCESSOR_POLICY, type ProcessorPolicy } from "./policy.ts";
import type { DataFlow } from "./schema.ts";
import type { SecretMeta } from "./secrets.ts";
import { type PhaseReport, statusPatch } from "./status.ts";

/** Cache reads of the reconciler (informers in production, maps in tests). */
export interface DataFlowCache {
  /** The DataFlow, or undefined when it is gone; may throw (reported as FailedGet). */
  dataflow(namespace: string, name: string): DataFlow | undefined;
  configMap(namespace: string, name: string): (ConfigMap & KubeObject) | undefined;
  deployment(namespace: string, name: string): (Deployment & KubeObject) | undefined;
  /** Metadata of a Secret; never its data. */
  secret(namespace: string, name: string): SecretMeta | undefined;
}

/** Everything the reconciler depends on. */
export interface ReconcilerDeps {
  cache: DataFlowCache;
  client: KubeWrites;
  events: EventSink;
  settings: ProcessorSettings;
  /** What a DataFlow may ask for in placement and resources (default: DEFAULT_PROCESSOR_POLICY). */
  policy?: ProcessorPolicy;
  metrics?: DataFlowStatusMetric;
  /** Stamps the Ready condition's lastTransitionTime (wall time; default: the real clock). */
  clock?: Pick<Clock, "wallNow">;
  /** Delay before re-checking a name taken by an object we do not own (default 60 s). */
  notOwnedRetryMs?: number;
}

/** The reconciler's dependencies with their defaults, and the state it keeps between reconciles. */
export interface ReconcilerContext extends Required<ReconcilerDeps> {
  /**
   * The operator's own writes to each DataFlow until the cache shows them: a reconcile that runs
   * before the watch delivered them would otherwise act on a version they replaced (and send an
   * extra status patch that fails with 409).
   */
  ownWrites: OwnWrites<DataFlow>;
}

/** Makes the context every reconcile of one operator shares. */
export function reconcilerContext(deps: ReconcilerDeps): ReconcilerContext {
  return {
    ...deps,
    policy: deps.policy ?? DEFAULT_PROCESSOR_POLICY,
    metrics: deps.metrics ?? new DataFlowStatusMetric(),
    clock: deps.clock ?? realClock,
    notOwnedRetryMs: deps.notOwnedRetryMs ?? 60_000,
    // Kept until the cache catches up: no large spec in it.
    ownWrites: new OwnWrites<DataFlow>({ retain: slimDataFlow }),
  };
}

/** The part of a reconcile request the reconciler reads (the runtime's ReconcileContext fits). */
export interface DataFlowRequest {
  namespace?: string;
  name: string;
  signal?: AbortSignal;
  log?: Logger;
}

/** One reconcile of one DataFlow: the context, which DataFlow, its log and the abort signal. */
export interface ReconcileScope {
  ctx: ReconcilerContext;
  namespace: string;
  name: string;
  /** The DataFlow's key in the overlay and the caches, `namespace/name`. */
  key: string;
  signal?: AbortSignal;
  /** Carries `dataflow_name` and `dataflow_namespace` on every line. */
  log: Logger;
}

const baseLog = logger("operator", "reconciler");

/** The scope of a reconcile of the DataFlow `req` names. */
export function reconcileScope(ctx: ReconcilerContext, req: DataFlowRequest): ReconcileScope {
  const namespace = req.namespace ?? "default";
  const { name, signal } = req;
  const log = (req.log ?? baseLog).with({ dataflow_name: name, dataflow_namespace: namespace });
  return { ctx, namespace, name, key: `${namespace}/${name}`, signal, log };
}

/** Emits an event. The recorder logs each emission at debug (`Emitted Kubernetes event ...`); not repeated here. */
export function emit(
  scope: ReconcileScope,
  obj: EventTarget,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): void {
  if (type === "Normal") scope.ctx.events.info(obj, reason, message);
  else scope.ctx.events.warn(obj, reason, message);
}

/** The info line of one write the operator made to an owned object. */
export function logWrite(
  scope: ReconcileScope,
  action: "created" | "updated" | "deleted",
  kind: string,
  objName: string,
): void {
  scope.log.info("{action} {kind} {object} for DataFlow {dataflow_namespace}/{dataflow_name}", {
    action,
    kind,
    object: `${scope.namespace}/${objName}`,
  });
}

/**
 * What failed, in words for a status message or an Event: the API's own message for an API error
 * (`Deployment.apps "x" is invalid: ...`, not `POST /apis/...: ...`), else the error's message.
 */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  return err instanceof Error ? err.message : String(err);
}

/** {@link errorText}, with the failed HTTP request (verb, path, code) at debug. */
export function failureText(scope: ReconcileScope, err: unknown): string {
  if (err instanceof ApiError && err.request) {
    scope.log.debug("API request {request} failed: {outcome}", {
      request: err.request,
      outcome: err.code ? `HTTP ${err.code}${err.reason ? ` ${err.reason}` : ""}` : "no answer",
      error: err.detail,
    });
  }
  return errorText(err);
}

/**
 * Writes the status when it differs from `report`; resolves with the updated object (or `current`
 * when nothing changed or the DataFlow is gone). Sets the phase metric either way.
 */
export async function updateStatus(
  scope: ReconcileScope,
  current: DataFlow,
  report: PhaseReport,
): Promise<DataFlow> {
  const { ctx, namespace, name } = scope;
  ctx.metrics.set(namespace, name, report.phase);
  const patch = statusPatch(current.status, report, current.metadata.generation, ctx.clock.wallNow());
  if (!patch) return current;
  try {
    const updated = await ctx.client.patch<DataFlow>(
      DataFlowType,
      name,
      { metadata: { resourceVersion: current.metadata.resourceVersion }, status: patch },
      { namespace, subresource: "status", type: "merge", fieldManager: FIELD_MANAGER, signal: scope.signal },
    );
    ctx.ownWrites.record(scope.key, current, updated);
    scope.log.info("updated status of DataFlow {dataflow_namespace}/{dataflow_name}: phase {phase}", {
      phase: report.phase,
      statusMessage: report.message,
    });
    return updated;
  } catch (err) {
    if (isNotFound(err)) return current;
    if (!isConflict(err)) {
      emit(
        scope,
        current,
        "Warning",
        "StatusUpdateFailed",
        `Unable to update DataFlow status: ${failureText(scope, err)}`,
      );
    }
    throw err;
  }
}

/**
 * Records a failure: status Error, and a Warning event when the failure is new (the status
 * message is the memory), so a failure retried with backoff, or an idle resync, does not repeat it.
 */
export async function recordFailure(
  scope: ReconcileScope,
  current: DataFlow,
  report: PhaseReport,
  reason: string,
  eventMessage: string,
): Promise<void> {
  const isNew = current.status?.phase !== report.phase || current.status?.message !== report.message;
  // Loud once, when the failure appears or changes; a known failure only at debug.
  if (isNew) {
    scope.log.warning("DataFlow {dataflow_namespace}/{dataflow_name}: {detail}", { detail: report.message });
    emit(scope, current, "Warning", reason, eventMessage);
  } else {
    scope.log.debug("DataFlow {dataflow_namespace}/{dataflow_name} still failing: {detail}", {
      detail: report.message,
    });
  }
  await updateStatus(scope, current, report);
}
