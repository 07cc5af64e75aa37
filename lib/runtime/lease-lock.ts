/**
 * The {@link LeaderLock} on a `coordination.k8s.io/v1` Lease, as client-go's `LeaseLock`: the
 * record is the Lease's `spec`, and every write is a full update carrying the resourceVersion
 * this handle last read or wrote, so two candidates that read the same version cannot both win.
 */
import { KubeClient, type KubeObject } from "../kube/client.ts";
import { ForbiddenError, isNotFound } from "../kube/errors.ts";
import { builtin } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import type { Registry } from "../observe/metrics.ts";
import { abortableDelay, type Clock, realClock } from "../time/clock.ts";
import type { LeaderLock, LeaseRecord } from "./leader-lock.ts";

/** A Lease as the lock reads and writes it. */
export interface LeaseObject extends KubeObject {
  /** The election record, and whatever else the Lease's spec holds. */
  spec?: LeaseRecord & Record<string, unknown>;
}

/** Options of a {@link LeaseLock}. */
export interface LeaseLockOptions {
  /** The API client; the lock keeps its transport and scope, with retries of its own (see below). */
  client: KubeClient;
  /** The Lease's namespace. */
  namespace: string;
  /** The Lease's name, e.g. "dataflow-operator.dataflow.io". */
  name: string;
  /** The identity this handle writes as holder. */
  identity: string;
  /** Where the lock's API requests are counted (default: the process registry). */
  registry?: Registry;
  /** The clock of the lock's retries, request deadlines and watch pauses (default the real clock). */
  clock?: Clock;
  /** Pause before a failed watch is re-established (default 2 s; the elector passes its retry period). */
  watchRetryMs?: number;
}

/** One candidate's handle on a Lease. */
export class LeaseLock implements LeaderLock {
  /** The identity this handle writes as holder. */
  readonly identity: string;
  /** The Lease's name. */
  readonly name: string;
  /** The Lease's namespace. */
  readonly namespace: string;
  readonly #client: KubeClient;
  readonly #clock: Clock;
  readonly #watchRetryMs: number;
  readonly #log;
  /** The Lease as last read or written: its resourceVersion is the precondition of the next update. */
  #lease?: LeaseObject;
  #watchRefusedLogged = false;

  /** A handle that has not read the Lease yet. */
  constructor(options: LeaseLockOptions) {
    if (!options.name) throw new TypeError("leader election: a lease name is required");
    if (!options.namespace) throw new TypeError("leader election: a namespace is required");
    this.identity = options.identity;
    this.name = options.name;
    this.namespace = options.namespace;
    this.#clock = options.clock ?? realClock;
    this.#watchRetryMs = options.watchRetryMs ?? 2_000;
    // Quick retries inside an attempt (100 ms doubling to 1 s; Retry-After as asked), bounded by the
    // attempt's deadline: the client's default backoff (up to 10 s between tries) could hold a
    // renewal past the renew deadline although the API server was back in time, e.g. after a 5 s
    // restart, while no retries at all would lose every attempt to a short burst of 429s.
    this.#client = new KubeClient(options.client.transport, {
      namespace: options.client.namespace,
      retry: { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1_000 },
      registry: options.registry,
      clock: this.#clock,
    });
    this.#log = logger("runtime", "leader").with({ lease: this.describe(), identity: this.identity });
  }

  /** `namespace/name`. */
  describe(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** Reads the Lease; `undefined` when it does not exist. */
  async get(signal: AbortSignal): Promise<LeaseRecord | undefined> {
    try {
      this.#lease = await this.#client.get<LeaseObject>(builtin.Lease, this.name, this.#opts(signal));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.#lease = undefined;
      return undefined;
    }
    return recordOf(this.#lease);
  }

  /** Creates the Lease with `record` as its spec (AlreadyExistsError when another candidate was first). */
  async create(record: LeaseRecord, signal: AbortSignal): Promise<void> {
    this.#lease = await this.#client.create<LeaseObject>(builtin.Lease, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.name, namespace: this.namespace },
      spec: { ...record },
    }, this.#opts(signal));
  }

  /**
   * Replaces the Lease's record (ConflictError when it changed since this handle last saw it).
   * Spec fields the record does not model (a preferred holder, a strategy) are kept.
   */
  async update(record: LeaseRecord, signal: AbortSignal): Promise<void> {
    const lease = this.#lease;
    if (!lease) throw new Error(`Lease ${this.describe()}: update before get or create`);
    this.#lease = await this.#client.replace<LeaseObject>(builtin.Lease, {
      ...lease,
      spec: { ...lease.spec, ...record },
    }, this.#opts(signal));
  }

  /**
   * Watches the Lease until `signal` aborts, re-established a retry period after any failure; says
   * once when RBAC refuses it, since a released lease is then noticed only at the next poll.
   */
  async watch(signal: AbortSignal, onChange: (record: LeaseRecord | undefined) => void): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (
          const ev of this.#client.watch<LeaseObject>(builtin.Lease, {
            namespace: this.namespace,
            fieldSelector: `metadata.name=${this.name}`,
            timeoutSeconds: 290,
            signal,
          })
        ) {
          if (ev.type === "DELETED") onChange(undefined);
          else if (ev.type === "ADDED" || ev.type === "MODIFIED") onChange(recordOf(ev.object));
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ForbiddenError && !this.#watchRefusedLogged) {
          this.#watchRefusedLogged = true;
          this.#log.warning(
            "cannot watch Lease {lease}; a released lease is noticed only at the next poll (grant list and watch on it): {error}",
            { lease: this.name, error: err.message },
          );
        } else {
          this.#log.debug("watch of Lease {lease} failed: {error}", { error: (err as Error).message });
        }
      }
      await abortableDelay(this.#clock, this.#watchRetryMs, signal);
    }
  }

  /**
   * A 403 (no permission on the Lease) or 404 (its namespace does not exist, or it vanished
   * under an update) as a problem with its fix; other errors are transient.
   */
  problem(err: unknown): string | undefined {
    if (!(err instanceof ForbiddenError || isNotFound(err))) return undefined;
    const fix = err instanceof ForbiddenError
      ? `grant get, create and update on leases in ${this.namespace} (deploy/rbac.yaml's Role)`
      : `create namespace ${this.namespace} or choose another with --leader-election-namespace`;
    return `cannot take Lease ${this.describe()}: ${err.message}; ${fix}`;
  }

  #opts(signal: AbortSignal) {
    return { namespace: this.namespace, signal };
  }
}

/** The election record of a Lease: the five fields the algorithm reads, nothing else. */
function recordOf(lease: LeaseObject): LeaseRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity,
    leaseDurationSeconds: s.leaseDurationSeconds,
    acquireTime: s.acquireTime,
    renewTime: s.renewTime,
    leaseTransitions: s.leaseTransitions,
  };
}
