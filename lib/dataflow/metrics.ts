/**
 * `dataflow_status{namespace,name,phase}`: 1 for the DataFlow's current phase only. Unlike the Go
 * operator (one series per phase ever seen, 1 only for Running, never deleted), the series of the
 * previous phase is removed on every change and all series go when the DataFlow is deleted, so
 * `dataflow_status{phase="Error"} == 1` is a working alert.
 */
import { defaultRegistry, type Gauge, type Registry } from "../observe/mod.ts";
import type { Phase } from "./status.ts";

const PHASES: readonly Phase[] = ["Pending", "Running", "Error", "Stopped"];

/** The DataFlow status gauge. */
export class DataFlowStatusMetric {
  readonly gauge: Gauge;

  constructor(registry: Registry = defaultRegistry) {
    this.gauge = registry.gauge(
      "dataflow_status",
      "Phase of each DataFlow: 1 for the current phase (Pending, Running, Error, Stopped).",
      ["namespace", "name", "phase"],
    );
  }

  /** Marks `phase` as the current one. */
  set(namespace: string, name: string, phase: Phase): void {
    for (const p of PHASES) if (p !== phase) this.gauge.remove({ namespace, name, phase: p });
    this.gauge.set({ namespace, name, phase }, 1);
  }

  /** Drops every series of a deleted DataFlow. */
  forget(namespace: string, name: string): void {
    for (const phase of PHASES) this.gauge.remove({ namespace, name, phase });
  }
}
