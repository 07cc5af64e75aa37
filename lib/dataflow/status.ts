/**
 * Status computation: the phase and message exactly as the Go operator words them, plus
 * observedGeneration and a Ready condition, and the minimal status patch (none when nothing
 * changed, so an idle reconcile writes nothing).
 */
import type { Deployment } from "kubernetes-types/apps/v1";
import type { Condition, DataFlowStatus } from "./schema.ts";

/** The phases a DataFlow reports. */
export type Phase = "Pending" | "Running" | "Error" | "Stopped";

/** A phase with its message and the Ready condition's reason. */
export interface PhaseReport {
  phase: Phase;
  message: string;
  /** CamelCase reason of the Ready condition. */
  reason: string;
}

/**
 * The phase derived from the processor Deployment, as the Go operator does it. One deliberate
 * difference: a Deployment the deployment controller has not yet looked at (no status for its
 * generation) is "starting", not `Error: No replicas available` (the Go operator's transient
 * false alarm right after every create).
 */
export function phaseFromDeployment(dep: Deployment | undefined): PhaseReport {
  if (!dep) return { phase: "Pending", message: "Deployment not found", reason: "DeploymentNotFound" };
  const s = dep.status ?? {};
  if ((s.readyReplicas ?? 0) > 0) {
    return { phase: "Running", message: "Processor pod is running", reason: "ProcessorRunning" };
  }
  if ((s.replicas ?? 0) > 0) {
    return { phase: "Pending", message: "Processor pod is starting", reason: "ProcessorStarting" };
  }
  const observed = s.observedGeneration ?? 0;
  if (observed < (dep.metadata?.generation ?? 1)) {
    return { phase: "Pending", message: "Processor pod is starting", reason: "ProcessorStarting" };
  }
  return { phase: "Error", message: "No replicas available", reason: "NoReplicasAvailable" };
}

/** The Ready condition for a report, keeping the transition time when the status did not flip. */
export function readyCondition(
  report: PhaseReport,
  generation: number | undefined,
  previous: Condition | undefined,
  now: Date,
): Condition {
  const status = report.phase === "Running" ? "True" : "False";
  return {
    type: "Ready",
    status,
    reason: report.reason,
    message: report.message,
    lastTransitionTime: previous && previous.status === status
      ? previous.lastTransitionTime
      : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

/**
 * The status patch (a JSON merge patch of `status`) that brings `current` to `report`, or
 * undefined when it already says exactly that. The processor counters are left alone.
 */
export function statusPatch(
  current: DataFlowStatus | undefined,
  report: PhaseReport,
  generation: number | undefined,
  now: Date,
): Partial<DataFlowStatus> | undefined {
  const conditions = current?.conditions ?? [];
  const previous = conditions.find((c) => c.type === "Ready");
  const ready = readyCondition(report, generation, previous, now);
  const same = current?.phase === report.phase && current?.message === report.message &&
    current?.observedGeneration === generation && previous !== undefined &&
    previous.status === ready.status && previous.reason === ready.reason &&
    previous.message === ready.message &&
    previous.observedGeneration === ready.observedGeneration;
  if (same) return undefined;
  return {
    phase: report.phase,
    message: report.message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: [...conditions.filter((c) => c.type !== "Ready"), ready],
  };
}
