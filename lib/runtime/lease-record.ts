/**
 * The Lease record, its timestamps and identity, and the options of leader election (the
 * algorithm itself is in lease.ts).
 */
import { hostname } from "node:os";
import process from "node:process";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import type { Registry } from "../observe/metrics.ts";
import type { Clock } from "../time/clock.ts";

/** Options of a LeaderElector (lease.ts). */
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
  /** Watch the Lease while waiting, to take a released lease at once (default true). */
  watchLease?: boolean;
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
  const base = process.env.POD_NAME || (() => {
    try {
      return hostname();
    } catch {
      return "unknown";
    }
  })();
  return `${base}_${crypto.randomUUID().slice(0, 8)}`;
}

/** Raised (as the abort reason of the elector's `leadingSignal`) when leadership is lost. */
export class LeadershipLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeadershipLostError";
  }
}

/** A Lease as the elector reads and writes it. */
export interface LeaseObject extends KubeObject {
  spec?: LeaseRecord;
}

/** An AbortSignal that aborts after `ms` on `clock`, or with `parent`. */
export function deadlineSignal(
  clock: Clock,
  ms: number,
  parent?: AbortSignal,
): { signal: AbortSignal; clear: () => void } {
  const ac = new AbortController();
  const onAbort = () => ac.abort(parent!.reason);
  if (parent?.aborted) onAbort();
  parent?.addEventListener("abort", onAbort, { once: true });
  const t = clock.setTimeout(() => ac.abort(new Error(`request cut off after ${ms} ms`)), ms);
  return {
    signal: ac.signal,
    clear: () => {
      clock.clearTimeout(t);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}
