/**
 * The lock leader election runs over, as client-go's `resourcelock.Interface`: one record in one
 * object that every candidate reads and writes with optimistic concurrency. The election
 * algorithm (lease.ts) knows only this interface; the Lease lock (lease-lock.ts) is the one the
 * toolkit ships, and a lock over anything else that offers compare-and-swap works the same way.
 */

/**
 * The election record: who holds the lock, for how long, since when, and how often it changed
 * hands. The fields and their meaning are those of a `coordination.k8s.io/v1` Lease's `spec`.
 */
export interface LeaseRecord {
  /** The holder; empty when nobody holds the lock (released, or never taken). */
  holderIdentity?: string;
  /** How long others must observe the record unchanged before they may take it. */
  leaseDurationSeconds?: number;
  /** When the current holder took the lock (MicroTime, see {@link microTime}). */
  acquireTime?: string;
  /** When the holder last renewed (MicroTime). Informational: candidates never compare it to their clock. */
  renewTime?: string;
  /** How many times the lock changed hands. */
  leaseTransitions?: number;
}

/**
 * One candidate's handle on the lock. A handle remembers the version of the record it last read
 * or wrote, so {@link LeaderLock.update} only succeeds when nobody wrote in between, like an
 * update with a resourceVersion precondition. Every candidate has its own handle.
 *
 * Failures are the API's typed errors (lib/kube/errors.ts): {@link LeaderLock.create} rejects
 * with `AlreadyExistsError` when the record exists, {@link LeaderLock.update} with
 * `ConflictError` when the record changed since this handle last saw it.
 */
export interface LeaderLock {
  /** The identity this handle writes as holder. */
  readonly identity: string;
  /** A short name of the lock (the `name` label of `leader_election_master_status`). */
  readonly name: string;
  /** Where the lock is, for logs: e.g. `namespace/name`. */
  describe(): string;
  /** Reads the record; resolves `undefined` when the lock object does not exist yet. */
  get(signal: AbortSignal): Promise<LeaseRecord | undefined>;
  /** Creates the lock object holding `record`. */
  create(record: LeaseRecord, signal: AbortSignal): Promise<void>;
  /** Replaces the record, provided it did not change since this handle last read or wrote it. */
  update(record: LeaseRecord, signal: AbortSignal): Promise<void>;
  /**
   * Optional: calls `onChange` with every new record (`undefined` when the object is deleted)
   * until `signal` aborts, re-establishing itself after failures. Lets a waiting candidate take a
   * released lock at once instead of at its next poll.
   */
  watch?(signal: AbortSignal, onChange: (record: LeaseRecord | undefined) => void): Promise<void>;
  /**
   * Optional: when `err` is a refusal that will not go away by itself (no permission, no such
   * namespace), the problem and its fix in one sentence; `undefined` for transient failures.
   */
  problem?(err: unknown): string | undefined;
}

/** Formats a Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Raised (as the abort reason of the elector's `leadingSignal`) when leadership is lost. */
export class LeadershipLostError extends Error {
  /** The error, with why leadership was lost. */
  constructor(message: string) {
    super(message);
    this.name = "LeadershipLostError";
  }
}
