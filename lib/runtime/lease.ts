/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's algorithm: create or take
 * over with optimistic concurrency on resourceVersion, judge expiry by local observation time
 * (so clock skew between replicas does not matter), renew every retry period, give up after the
 * renew deadline, and release on graceful shutdown.
 */
import { KubeClient } from "../kube/client.ts";
import { ForbiddenError, isConflict, isNotFound } from "../kube/errors.ts";
import { builtin } from "../kube/resources.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import { type Clock, realClock } from "../time/clock.ts";
import { jitter } from "../time/backoff.ts";
import {
  deadlineSignal,
  defaultIdentity,
  type LeaderElectionOptions,
  LeadershipLostError,
  type LeaseObject,
  microTime,
} from "./lease-record.ts";

export { defaultIdentity, LeadershipLostError, microTime } from "./lease-record.ts";
export type { LeaderElectionOptions, LeaseRecord } from "./lease-record.ts";

/** One candidate for one Lease. */
export class LeaderElector {
  readonly identity: string;
  readonly options: LeaderElectionOptions;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly requestTimeoutMs: number;
  #clock: Clock;
  #client: KubeClient;
  #observed?: LeaseObject;
  #observedRaw = "";
  #observedTime = -Infinity;
  #leading = false;
  #watchRefusedLogged = false;
  #problem?: string;
  #lastRenew = -Infinity;
  #leadingAc = new AbortController();
  #renewAc?: AbortController;
  #renewLoop?: Promise<void>;
  #acquiring?: Promise<boolean>;
  #status;
  #log;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.identity = options.identity ?? defaultIdentity();
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? Math.max(this.renewDeadlineMs / 2, 1_000);
    if (!(this.leaseDurationMs > 0 && this.renewDeadlineMs > 0 && this.retryPeriodMs > 0)) {
      throw new RangeError("leader election: lease duration, renew deadline and retry period must be > 0");
    }
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new RangeError("leader election: the lease duration must be greater than the renew deadline");
    }
    if (this.renewDeadlineMs <= 1.2 * this.retryPeriodMs) {
      throw new RangeError("leader election: the renew deadline must be greater than 1.2 × the retry period");
    }
    if (!options.leaseName) throw new TypeError("leader election: a lease name is required");
    if (!options.namespace) throw new TypeError("leader election: a namespace is required");
    this.#clock = options.clock ?? realClock;
    // Quick retries inside an attempt (100 ms doubling to 1 s; Retry-After as asked), bounded by the
    // attempt's deadline: the client's default backoff (up to 10 s between tries) could hold a
    // renewal past the renew deadline although the API server was back in time, e.g. after a 5 s
    // restart, while no retries at all would lose every attempt to a short burst of 429s.
    this.#client = new KubeClient(options.client.transport, {
      namespace: options.client.namespace,
      retry: { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1_000 },
      registry: options.registry,
    });
    this.#status = (options.registry ?? defaultRegistry).gauge(
      "leader_election_master_status",
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. " +
        "'name' is the string used to identify the lease. Please make sure to group by name.",
      ["name"],
    );
    this.#status.set({ name: options.leaseName }, 0);
    this.#log = logger("runtime", "leader").with({
      lease: `${options.namespace}/${options.leaseName}`,
      identity: this.identity,
    });
  }

  /**
   * True while this candidate holds the lease and its last successful renewal is within the
   * renew deadline. Checked against the clock, so it turns false at the deadline even if the
   * renew loop's timer fires late.
   */
  isLeader(): boolean {
    return this.#leading && this.#clock.now() - this.#lastRenew < this.renewDeadlineMs;
  }

  /** The holder last observed (maybe another candidate), or undefined. */
  get leader(): string | undefined {
    return this.#observed?.spec?.holderIdentity || undefined;
  }

  /** The Lease as last read or written. */
  get observedLease(): LeaseObject | undefined {
    return this.#observed;
  }

  /**
   * Tries until the lease is ours; resolves true then, false when `signal` aborted first.
   * Attempts come every retry period, jittered ×[1, 2) (client-go uses ×[1, 2.2); the narrower
   * jitter bounds a takeover after a crash by lease duration + 2 retry periods), plus one exactly
   * when the observed lease expires, plus one as soon as a watch on the Lease shows it released,
   * so a standby takes over a gracefully released lease within milliseconds. Afterwards the lease
   * is renewed in the background until {@link release} or {@link stop}, or until renewal fails
   * past the renew deadline, which aborts {@link leadingSignal}.
   */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.#leading) return Promise.resolve(true);
    // One loop per elector: a second caller shares the running attempt.
    this.#acquiring ??= this.#acquire(signal).finally(() => (this.#acquiring = undefined));
    return this.#acquiring;
  }

  async #acquire(signal?: AbortSignal): Promise<boolean> {
    this.#log.info("waiting to acquire lease {lease} as {identity}");
    const watching = new AbortController();
    const stopWatching = () => watching.abort();
    signal?.addEventListener("abort", stopWatching, { once: true });
    let wake: (() => void) | undefined;
    if (this.options.watchLease !== false) {
      this.#watchForRelease(watching.signal, () => wake?.()).catch(() => {});
    }
    try {
      while (!signal?.aborted) {
        if (await this.#tryAcquireOrRenew(signal)) {
          if (signal?.aborted) break;
          this.#becomeLeader();
          return true;
        }
        let delay = jitter(this.retryPeriodMs, 1.0);
        const holderMs = (this.#observed?.spec?.leaseDurationSeconds ?? 0) * 1000;
        const expiresIn = this.#observedTime + holderMs - this.#clock.now();
        if (this.#observed?.spec?.holderIdentity && expiresIn > 0) delay = Math.min(delay, expiresIn + 1);
        const ac = new AbortController();
        wake = () => ac.abort();
        const onAbort = () => ac.abort();
        signal?.addEventListener("abort", onAbort, { once: true });
        await this.#clock.sleep(delay, ac.signal).catch(() => {});
        signal?.removeEventListener("abort", onAbort);
        wake = undefined;
      }
      return false;
    } finally {
      watching.abort();
      signal?.removeEventListener("abort", stopWatching);
    }
  }

  /** Watches the Lease while we wait, calling `wake` when it is released (empty holder) or deleted. */
  async #watchForRelease(signal: AbortSignal, wake: () => void): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (
          const ev of this.#client.watch<LeaseObject>(builtin.Lease, {
            namespace: this.options.namespace,
            fieldSelector: `metadata.name=${this.options.leaseName}`,
            timeoutSeconds: 290,
            signal,
          })
        ) {
          if (
            ev.type === "DELETED" ||
            (ev.type !== "ERROR" && ev.type !== "BOOKMARK" && !ev.object.spec?.holderIdentity)
          ) {
            wake();
          }
        }
      } catch (err) {
        // Best effort only: the polling loop still runs. Try again after a retry period; say once
        // when RBAC refuses it, since takeover after a release then waits for the next poll.
        if (err instanceof ForbiddenError && !this.#watchRefusedLogged) {
          this.#watchRefusedLogged = true;
          this.#log.warning(
            "cannot watch Lease {lease}; a released lease is noticed only at the next poll (grant list and watch on it): {error}",
            { lease: this.options.leaseName, error: err.message },
          );
        }
      }
      await this.#clock.sleep(this.retryPeriodMs, signal).catch(() => {});
    }
  }

  /** Aborted when leadership is lost (renewal failed past the deadline, or another holder took the lease). */
  get leadingSignal(): AbortSignal {
    return this.#leadingAc.signal;
  }

  /**
   * Stops renewing and, when we hold the lease, hands it back (empty holder,
   * leaseDurationSeconds 1, leaseTransitions unchanged) so a standby takes over at its next
   * attempt. Call it only after all guarded work finished. Retries on conflict until the renew
   * deadline.
   */
  async release(): Promise<void> {
    const wasLeading = this.#leading;
    await this.#stopRenewing();
    if (!wasLeading || !this.#observed || this.#observed.spec?.holderIdentity !== this.identity) {
      this.#setLeading(false);
      return;
    }
    this.#setLeading(false);
    const deadline = this.#clock.now() + this.renewDeadlineMs;
    let lease: LeaseObject | undefined = this.#observed;
    while (this.#clock.now() < deadline) {
      const d = deadlineSignal(this.#clock, Math.min(this.requestTimeoutMs, deadline - this.#clock.now()));
      try {
        if (!lease) {
          lease = await this.#client.get<LeaseObject>(
            builtin.Lease,
            this.options.leaseName,
            this.#opts(d.signal),
          );
        }
        if (lease.spec?.holderIdentity !== this.identity) return;
        const now = microTime(this.#clock.wallNow());
        const released: LeaseObject = {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: lease.spec?.leaseTransitions ?? 0,
          },
        };
        this.#observed = await this.#client.replace(builtin.Lease, released, this.#opts(d.signal));
        this.#log.info("released lease {lease}");
        return;
      } catch (err) {
        lease = undefined;
        if (!isConflict(err)) {
          this.#log.warning("releasing lease {lease} failed: {error}", { error: (err as Error).message });
          await this.#clock.sleep(Math.min(500, this.retryPeriodMs)).catch(() => {});
        }
      } finally {
        d.clear();
      }
    }
    this.#log.warning("could not release lease {lease} within the renew deadline; it will expire");
  }

  /** Stops renewing without releasing (the lease then expires after its duration). */
  stop(): void {
    this.#renewAc?.abort();
    this.#setLeading(false);
  }

  /**
   * Liveness (client-go's HealthzAdaptor): false when we think we lead but have not renewed for
   * lease duration + `toleranceMs`, i.e. the renew loop is hung instead of giving up.
   */
  healthy(toleranceMs = 20_000): boolean {
    return !(this.#leading && this.#clock.now() - this.#lastRenew > this.leaseDurationMs + toleranceMs);
  }

  #opts(signal: AbortSignal) {
    return { namespace: this.options.namespace, signal };
  }

  #setLeading(v: boolean): void {
    this.#leading = v;
    this.#status.set({ name: this.options.leaseName }, v ? 1 : 0);
  }

  #becomeLeader(): void {
    this.#leadingAc = new AbortController();
    this.#setLeading(true);
    this.#log.info("became leader of {lease}");
    const ac = this.#renewAc = new AbortController();
    this.#renewLoop = this.#renew(ac.signal);
  }

  async #stopRenewing(): Promise<void> {
    this.#renewAc?.abort();
    await this.#renewLoop?.catch(() => {});
    this.#renewLoop = undefined;
  }

  async #renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#clock.sleep(this.retryPeriodMs, signal).catch(() => {});
      if (signal.aborted) return;
      for (;;) {
        const left = this.#lastRenew + this.renewDeadlineMs - this.#clock.now();
        if (left <= 0) {
          return this.#lose(`no successful renewal within the renew deadline (${this.renewDeadlineMs} ms)`);
        }
        const ok = await this.#tryAcquireOrRenew(signal, Math.min(this.requestTimeoutMs, left));
        if (signal.aborted) return;
        if (ok) break;
        if (this.#observed?.spec?.holderIdentity && this.#observed.spec.holderIdentity !== this.identity) {
          return this.#lose(`the lease is now held by ${this.#observed.spec.holderIdentity}`);
        }
        const wait = Math.min(this.retryPeriodMs, this.#lastRenew + this.renewDeadlineMs - this.#clock.now());
        if (wait > 0) await this.#clock.sleep(wait, signal).catch(() => {});
      }
    }
  }

  #lose(why: string): void {
    if (!this.#leading) return;
    this.#setLeading(false);
    this.#renewAc?.abort();
    this.#log.error("lost leadership of {lease}: {why}", { why });
    this.#leadingAc.abort(new LeadershipLostError(`leader election lost: ${why}`));
  }

  /** client-go's tryAcquireOrRenew; true when we hold the lease afterwards. */
  async #tryAcquireOrRenew(parent?: AbortSignal, timeoutMs = this.requestTimeoutMs): Promise<boolean> {
    const now = this.#clock.now();
    const wall = microTime(this.#clock.wallNow());
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    const d = deadlineSignal(this.#clock, timeoutMs, parent);
    try {
      // Fast path: we lead and our view of the lease is current, so renew the object we hold.
      if (this.#leading && this.#observed && this.#observedTime + this.leaseDurationMs > now) {
        try {
          const renewed = await this.#client.replace(builtin.Lease, {
            ...this.#observed,
            spec: { ...this.#observed.spec, holderIdentity: this.identity, renewTime: wall },
          }, this.#opts(d.signal));
          this.#observe(renewed, this.#clock.now());
          this.#lastRenew = now;
          return true;
        } catch (err) {
          if (d.signal.aborted) throw err;
          this.#log.debug("renewing {lease} on the fast path failed: {error}", {
            error: (err as Error).message,
          });
        }
      }
      let lease: LeaseObject;
      try {
        lease = await this.#client.get<LeaseObject>(
          builtin.Lease,
          this.options.leaseName,
          this.#opts(d.signal),
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await this.#client.create<LeaseObject>(builtin.Lease, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.leaseName, namespace: this.options.namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: wall,
            renewTime: wall,
            leaseTransitions: 0,
          },
        }, this.#opts(d.signal));
        this.#observe(created, this.#clock.now());
        this.#lastRenew = now;
        this.#problem = undefined;
        return true;
      }
      const spec = lease.spec ?? {};
      const raw = JSON.stringify(spec);
      if (raw !== this.#observedRaw) {
        // Expiry is judged by when *we* saw the record change, never by its timestamps (clock skew).
        this.#observedRaw = raw;
        this.#observedTime = this.#clock.now();
        if (spec.holderIdentity !== this.#observed?.spec?.holderIdentity) {
          this.#log.info("lease {lease} is held by {holder}", { holder: spec.holderIdentity || "(nobody)" });
        }
      }
      this.#observed = lease;
      const holder = spec.holderIdentity ?? "";
      const holderMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (holder && holder !== this.identity && this.#observedTime + holderMs > this.#clock.now()) {
        return false;
      }
      const ours = holder === this.identity;
      const updated = await this.#client.replace(builtin.Lease, {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: ours && spec.acquireTime ? spec.acquireTime : wall,
          renewTime: wall,
          leaseTransitions: ours ? spec.leaseTransitions ?? 0 : (spec.leaseTransitions ?? 0) + 1,
        },
      }, this.#opts(d.signal));
      this.#observe(updated, this.#clock.now());
      this.#lastRenew = now;
      this.#problem = undefined;
      return true;
    } catch (err) {
      if (!parent?.aborted) this.#attemptFailed(err);
      return false;
    } finally {
      d.clear();
    }
  }

  /**
   * A failed attempt. Transient failures (a restart, a conflict) are routine and stay at debug;
   * a refusal that will not go away by itself (403: no permission on the Lease; 404: its
   * namespace does not exist) is an error, logged once per cause and reported by {@link problem}.
   */
  #attemptFailed(err: unknown): void {
    const message = (err as Error).message;
    if (err instanceof ForbiddenError || isNotFound(err)) {
      const fix = err instanceof ForbiddenError
        ? `grant get, create and update on leases in ${this.options.namespace} (deploy/rbac.yaml's Role)`
        : `create namespace ${this.options.namespace} or choose another with --leader-election-namespace`;
      const problem =
        `cannot take Lease ${this.options.namespace}/${this.options.leaseName}: ${message}; ${fix}`;
      if (problem !== this.#problem) this.#log.error("{problem}", { problem });
      this.#problem = problem;
      return;
    }
    this.#log.debug("lease {lease}: attempt failed: {error}", { error: message });
  }

  /** Why this candidate cannot take the lease, when that will not fix itself (403, 404); else undefined. */
  get problem(): string | undefined {
    return this.#problem;
  }

  #observe(lease: LeaseObject, at: number): void {
    this.#observed = lease;
    this.#observedRaw = JSON.stringify(lease.spec ?? {});
    this.#observedTime = at;
  }
}
