/**
 * The settings of a leader election (lease.ts): the options of both ways to build an elector (on
 * a Lease, or on any {@link LeaderLock}), their defaults and the rules between them, and the
 * default candidate identity.
 */
import { hostname } from "node:os";
import process from "node:process";
import type { KubeClient } from "../kube/client.ts";
import type { Registry } from "../observe/metrics.ts";
import type { Clock } from "../time/clock.ts";
import type { LeaderLock } from "./leader-lock.ts";

/** Timing and wiring shared by both ways of building a `LeaderElector`. */
export interface LeaderElectionSettings {
  /** How long a lease is valid without renewal (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renewal before it gives up (default 10 s). */
  renewDeadlineMs?: number;
  /**
   * Pause between attempts (default 2 s). The leader renews every retry period exactly; a
   * waiting candidate tries every `retryPeriod × (1 + random())`, i.e. [1, 2) retry periods.
   */
  retryPeriodMs?: number;
  /** Deadline of one API request (default max(renewDeadline/2, 1 s)). */
  requestTimeoutMs?: number;
  /** The clock of every timer and deadline (default the real clock). */
  clock?: Clock;
  /** The random source of the acquisition jitter, in [0, 1) (default Math.random). */
  random?: () => number;
  /** Where `leader_election_master_status` goes (default: the process registry). */
  registry?: Registry;
  /** Watch the lock while waiting, to take a released lease at once (default true). */
  watchLease?: boolean;
}

/** Options of a `LeaderElector` on a `coordination.k8s.io/v1` Lease. */
export interface LeaderElectionOptions extends LeaderElectionSettings {
  /** The API client (the Lease lock keeps its transport, with retries of its own). */
  client: KubeClient;
  /** The Lease's namespace. */
  namespace: string;
  /** The Lease's name, e.g. "dataflow-operator.dataflow.io". */
  leaseName: string;
  /** This candidate's identity (default {@link defaultIdentity}). */
  identity?: string;
}

/** Options of a `LeaderElector` on any {@link LeaderLock} (the identity is the lock's). */
export interface LockElectionOptions extends LeaderElectionSettings {
  /** This candidate's handle on the lock. */
  lock: LeaderLock;
}

/** The durations of an election, defaults applied. */
export interface ElectionTiming {
  /** How long a lease is valid without renewal. */
  leaseDurationMs: number;
  /** How long the leader keeps retrying a renewal before it gives up. */
  renewDeadlineMs: number;
  /** Pause between attempts. */
  retryPeriodMs: number;
  /** Deadline of one lock operation. */
  requestTimeoutMs: number;
}

/**
 * Applies the defaults and checks lease duration > renew deadline > 1.2 × retry period > 0 (the
 * leader must give up before others may take over, and have time for more than one try).
 */
export function electionTiming(options: LeaderElectionSettings): ElectionTiming {
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? Math.max(renewDeadlineMs / 2, 1_000);
  if (!(leaseDurationMs > 0 && renewDeadlineMs > 0 && retryPeriodMs > 0)) {
    throw new RangeError("leader election: lease duration, renew deadline and retry period must be > 0");
  }
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new RangeError("leader election: the lease duration must be greater than the renew deadline");
  }
  if (renewDeadlineMs <= 1.2 * retryPeriodMs) {
    throw new RangeError("leader election: the renew deadline must be greater than 1.2 × the retry period");
  }
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs, requestTimeoutMs };
}

/** Default identity: POD_NAME or the host name, "_", and a random suffix. */
export function defaultIdentity(): string {
  const base = process.env.POD_NAME || (() => {
    try {
      return hostname();
    } catch {
      return "unknown";
    }
  })();
  return `${base}_${crypto.randomUUID().slice(0, 8)}`;
}
