/**
 * The manager: one place that starts informers, leader election and controllers in order,
 * serves health and metrics, and stops everything in reverse on SIGTERM/SIGINT.
 */
import type { KubeClient } from "../kube/client.ts";
import type { Registry } from "../observe/metrics.ts";
import type { Controller } from "./controller.ts";
import type { Informer } from "./informer.ts";
import type { KubeObject } from "../kube/client.ts";

/** Leader election settings of a {@link Manager}. */
export interface ManagerLeaderElection {
  namespace: string;
  leaseName: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Anything the manager flushes at shutdown (after controllers drained, before the lease is released). */
export interface Closer {
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** A readiness or liveness check: passes unless it throws or returns false (or a failure reason string). */
export type Check = () => boolean | void | string | Promise<boolean | void | string>;

/** Options of {@link Manager}. */
export interface ManagerOptions {
  client: KubeClient;
  /** Name for logs. */
  name: string;
  /** Lease election (default: off). */
  leaderElection?: ManagerLeaderElection | false;
  /** Address of /healthz and /readyz, e.g. ":9091" or "127.0.0.1:0"; "" or "0" disables (default ":9091"). */
  healthBindAddress?: string;
  /** Address of /metrics (default ":9090"); may equal the health address. */
  metricsBindAddress?: string;
  /** Cap of graceful shutdown (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Registry served on /metrics (default: the process registry). */
  registry?: Registry;
  /** Install SIGTERM/SIGINT handlers in {@link Manager.run} (default true). */
  handleSignals?: boolean;
}

/** Starts and stops an operator's parts. */
export class Manager {
  readonly options: ManagerOptions;

  constructor(options: ManagerOptions) {
    this.options = options;
  }

  /** Adds an informer; informers start at once on every replica (standbys keep warm caches). */
  addInformer<T extends KubeObject>(_informer: Informer<T>): this {
    return this;
  }

  /** Adds a controller; its workers start only while leading and after its informers synced. */
  addController(_controller: Controller): this {
    return this;
  }

  /** Adds something to flush at shutdown (e.g. the event recorder). */
  addCloser(_closer: Closer): this {
    return this;
  }

  /** Adds a named readiness check (on /readyz). */
  addReadyCheck(_name: string, _check: Check): this {
    return this;
  }

  /** Adds a named liveness check (on /healthz). */
  addHealthCheck(_name: string, _check: Check): this {
    return this;
  }

  /** Runs until stopped; resolves with the exit code: 0 after a graceful shutdown, 1 after lost leadership or a shutdown timeout. */
  run(): Promise<number> {
    throw new Error("not implemented yet");
  }

  /** Begins graceful shutdown (what SIGTERM does). */
  stop(): void {}
}
