/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's algorithm: create or take
 * over with optimistic concurrency on resourceVersion, judge expiry by local observation time
 * (so clock skew between replicas does not matter), renew every retry period, give up after the
 * renew deadline, and release on graceful shutdown.
 */
import type { KubeClient } from "../kube/client.ts";
import type { Registry } from "../observe/metrics.ts";
import type { Clock } from "./clock.ts";

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name, e.g. "dataflow-operator.dataflow.io". */
  leaseName: string;
  /** This candidate's identity (default: POD_NAME or the host name, plus "_" and a random suffix). */
  identity?: string;
  /** How long a lease is valid without renewal (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renewal before it gives up (default 10 s). */
  renewDeadlineMs?: number;
  /** Pause between attempts (default 2 s; acquisition attempts are jittered ×[1, 2.2)). */
  retryPeriodMs?: number;
  /** Deadline of one API request (default max(renewDeadline/2, 1 s)). */
  requestTimeoutMs?: number;
  clock?: Clock;
  /** Where `leader_election_master_status` goes (default: the process registry). */
  registry?: Registry;
}

/** The `spec` of a Lease. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Formats a Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Default identity: POD_NAME or the host name, "_", and a random suffix. */
export function defaultIdentity(): string {
  return "";
}

/** One candidate for one Lease. */
export class LeaderElector {
  readonly identity: string;
  readonly options: LeaderElectionOptions;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.identity = options.identity ?? defaultIdentity();
  }

  /** True while this candidate holds the lease and its last renewal is within the renew deadline. */
  isLeader(): boolean {
    return false;
  }

  /** The holder last observed (maybe another candidate), or undefined. */
  get leader(): string | undefined {
    return undefined;
  }

  /**
   * Tries every retry period until the lease is ours; resolves true then, false when `signal`
   * aborted first. Afterwards the lease is renewed in the background until {@link release}, or
   * until renewal fails past the renew deadline, which aborts {@link leadingSignal}.
   */
  acquire(_signal?: AbortSignal): Promise<boolean> {
    throw new Error("not implemented yet");
  }

  /** Aborted when leadership is lost (renewal failed past the deadline, or another holder took the lease). */
  get leadingSignal(): AbortSignal {
    return AbortSignal.abort();
  }

  /** Stops renewing and, when we hold the lease, hands it back (empty holder) so a standby takes over at once. */
  release(): Promise<void> {
    return Promise.resolve();
  }

  /** Stops renewing without releasing. */
  stop(): void {}

  /** Liveness (client-go's HealthzAdaptor): false when we think we lead but have not renewed for lease duration + `toleranceMs`. */
  healthy(_toleranceMs = 20_000): boolean {
    return true;
  }
}
