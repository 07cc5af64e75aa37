/**
 * What the manager runs: anything with a start and, optionally, a graceful stop, a readiness
 * check and a flag that keeps it to the elected leader. Informers, controllers, the event
 * recorder and the health/metrics servers all reach the manager in this one shape
 * (`runnables.ts` adapts them), as controller-runtime's `manager.Runnable`.
 */
import type { HealthCheck } from "../observe/http.ts";

/** Options of {@link Runnable.stop}. */
export interface RunnableStopOptions {
  /** How long in-flight work may take to finish; after that it is cut off. */
  timeoutMs: number;
}

/**
 * Something the manager starts and stops.
 *
 * Two ways to stop: {@link Runnable.stop} asks for a graceful stop (finish in-flight work within
 * a deadline), and aborting the `signal` given to {@link Runnable.start} stops it at once. On a
 * graceful shutdown the manager calls `stop` first and aborts the signal afterwards; when
 * leadership is lost it only aborts the signal.
 */
export interface Runnable {
  /**
   * Names it in log lines ("controller dataflow", "informer configmaps") and, lower-cased with
   * other characters than `[a-z0-9._-]` as "-", names its readiness check on /readyz.
   */
  readonly name: string;
  /** Runs only on the elected leader, after leader election (default: on every replica, before it). */
  readonly leaderOnly?: boolean;
  /**
   * Runs until `signal` aborts or its work is done. A rejection is a failure: the manager shuts
   * down and exits 1. Rejecting with the signal's own reason after an abort is an ordinary stop.
   */
  start(signal: AbortSignal): Promise<void>;
  /**
   * Graceful stop: no new work, in-flight work finishes within `timeoutMs`. Resolves `false` when
   * it could not (the manager then exits 1 and leaves the lease to expire). Without it, the
   * manager stops the runnable by aborting its signal.
   */
  stop?(options: RunnableStopOptions): Promise<boolean | void>;
  /** Readiness, served on /readyz: passes unless it throws, returns false or a failure reason. */
  ready?: HealthCheck;
}

/** The name of a runnable's readiness check: its name lower-cased, other characters as "-". */
export function readyCheckName(runnable: Pick<Runnable, "name">): string {
  return runnable.name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-");
}
