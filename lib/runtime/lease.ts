/**
 * Leader election with client-go's algorithm over a {@link LeaderLock}: create the record or take
 * it over with optimistic concurrency, judge the holder's expiry by when *this* candidate saw the
 * record change, on its monotonic clock (so clock skew between replicas does not matter), renew
 * every retry period, give up after the renew deadline, and hand the lock back on graceful
 * shutdown. The Lease lock is in lease-lock.ts; docs/behaviour/leader-election.md says what the
 * election guarantees.
 */
import { isConflict } from "../kube/errors.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry } from "../observe/metrics.ts";
import { jitter } from "../time/backoff.ts";
import { abortableDelay, type Clock, deadlineSignal, realClock } from "../time/clock.ts";
import {
  defaultIdentity,
  electionTiming,
  type LeaderElectionOptions,
  type LockElectionOptions,
} from "./election-options.ts";
import { type LeaderLock, LeadershipLostError, type LeaseRecord, microTime } from "./leader-lock.ts";
import { LeaseLock } from "./lease-lock.ts";

/**
 * The jitter factor of the pause between two failed acquisition attempts: the pause is
 * `retryPeriod × (1 + random × ACQUIRE_JITTER_FACTOR)`, i.e. in [1, 2) retry periods. client-go
 * uses 1.2; the narrower range bounds a takeover after a crash by lease duration + 2 retry periods.
 */
const ACQUIRE_JITTER_FACTOR = 1.0;

/** The record's fields in a fixed order: what "the record changed" is judged on. */
function canonical(r: LeaseRecord): string {
  return JSON.stringify([
    r.holderIdentity ?? "",
    r.leaseDurationSeconds,
    r.acquireTime,
    r.renewTime,
    r.leaseTransitions,
  ]);
}

/** One candidate for one lock. */
export class LeaderElector {
  /** The identity written as holder (the lock's). */
  readonly identity: string;
  /** The options as given. */
  readonly options: LeaderElectionOptions | LockElectionOptions;
  /** The lock: the one given, or a {@link LeaseLock} built from the Lease options. */
  readonly lock: LeaderLock;
  /** How long a lease is valid without renewal. */
  readonly leaseDurationMs: number;
  /** How long the leader keeps retrying a renewal before it gives up. */
  readonly renewDeadlineMs: number;
  /** Pause between attempts (see {@link LeaderElector.acquire} for the jitter). */
  readonly retryPeriodMs: number;
  /** Deadline of one lock operation. */
  readonly requestTimeoutMs: number;
  #clock: Clock;
  #random: () => number;
  #observed?: LeaseRecord;
  #observedRaw = "";
  #observedTime = -Infinity;
  #leading = false;
  #problem?: string;
  #lastRenew = -Infinity;
  #leadingAc = new AbortController();
  #renewAc?: AbortController;
  #renewLoop?: Promise<void>;
  #acquiring?: Promise<boolean>;
  #status;
  #log;

  /**
   * A candidate that is not leading yet; nothing happens until {@link acquire}.
   * @throws RangeError when the timing breaks lease duration > renew deadline > 1.2 × retry period > 0
   */
  constructor(options: LeaderElectionOptions | LockElectionOptions) {
    this.options = options;
    ({
      leaseDurationMs: this.leaseDurationMs,
      renewDeadlineMs: this.renewDeadlineMs,
      retryPeriodMs: this.retryPeriodMs,
      requestTimeoutMs: this.requestTimeoutMs,
    } = electionTiming(options));
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
    this.lock = "lock" in options ? options.lock : new LeaseLock({
      client: options.client,
      namespace: options.namespace,
      name: options.leaseName,
      identity: options.identity ?? defaultIdentity(),
      registry: options.registry,
      clock: this.#clock,
      watchRetryMs: this.retryPeriodMs,
    });
    this.identity = this.lock.identity;
    this.#status = (options.registry ?? defaultRegistry).gauge(
      "leader_election_master_status",
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. " +
        "'name' is the string used to identify the lease. Please make sure to group by name.",
      ["name"],
    );
    this.#status.set({ name: this.lock.name }, 0);
    this.#log = logger("runtime", "leader").with({ lease: this.lock.describe(), identity: this.identity });
  }

  /**
   * True while this candidate holds the lease and its last successful renewal is within the
   * renew deadline. Checked against the clock, so it turns false at the deadline even if the
   * renew loop's timer fires late: this is what fences writes after a loss.
   */
  isLeader(): boolean {
    return this.#leading && this.#clock.now() - this.#lastRenew < this.renewDeadlineMs;
  }

  /** The holder last observed (maybe another candidate), or undefined. */
  get leader(): string | undefined {
    return this.#observed?.holderIdentity || undefined;
  }

  /** The record as last read or written. */
  get observedRecord(): LeaseRecord | undefined {
    return this.#observed;
  }

  /** Aborted when leadership is lost (renewal failed past the deadline, or another holder took the lease). */
  get leadingSignal(): AbortSignal {
    return this.#leadingAc.signal;
  }

  /** Why this candidate cannot take the lease, when that will not fix itself (403, 404); else undefined. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /**
   * Tries until the lease is ours; resolves true then (also when `signal` aborted during the
   * winning attempt: release or stop it), false when `signal` aborted first.
   * After a failed attempt the next comes after `retryPeriod × (1 + random × 1.0)` (the jitter,
   * from the `random` option), or earlier: exactly 1 ms after the observed holder's lease expires
   * when that is sooner, and at once when a watch on the lock shows it released or deleted.
   * Afterwards the lease is renewed in the background until {@link release} or {@link stop}, or
   * until renewal fails past the renew deadline, which aborts {@link leadingSignal}.
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
    if (this.options.watchLease !== false && this.lock.watch) {
      this.lock.watch(watching.signal, (record) => {
        if (!record?.holderIdentity) wake?.();
      }).catch((err) =>
        this.#log.warning("watching {lease} failed: {error}", { error: (err as Error).message })
      );
    }
    try {
      while (!signal?.aborted) {
        if (await this.#tryAcquireOrRenew(signal)) {
          // Won, even if `signal` aborted meanwhile: reported, so the caller releases the lease.
          this.#becomeLeader();
          return true;
        }
        // Aborted during the attempt: an aborted signal fires no event, so the pause would run out.
        if (signal?.aborted) break;
        const ac = new AbortController();
        wake = () => ac.abort();
        const onAbort = () => ac.abort();
        signal?.addEventListener("abort", onAbort, { once: true });
        await abortableDelay(this.#clock, this.#retryDelay(), ac.signal);
        signal?.removeEventListener("abort", onAbort);
        wake = undefined;
      }
      return false;
    } finally {
      watching.abort();
      signal?.removeEventListener("abort", stopWatching);
    }
  }

  /** The pause after a failed acquisition attempt: jittered, but never past the observed lease's expiry. */
  #retryDelay(): number {
    const delay = jitter(this.retryPeriodMs, ACQUIRE_JITTER_FACTOR, this.#random);
    const holderMs = (this.#observed?.leaseDurationSeconds ?? 0) * 1000;
    const expiresIn = this.#observedTime + holderMs - this.#clock.now();
    return this.#observed?.holderIdentity && expiresIn > 0 ? Math.min(delay, expiresIn + 1) : delay;
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
    this.#setLeading(false);
    if (!wasLeading || this.#observed?.holderIdentity !== this.identity) return;
    const deadline = this.#clock.now() + this.renewDeadlineMs;
    let current: LeaseRecord | undefined = this.#observed;
    while (this.#clock.now() < deadline) {
      const d = deadlineSignal(this.#clock, Math.min(this.requestTimeoutMs, deadline - this.#clock.now()));
      try {
        current ??= await this.lock.get(d.signal);
        // Deleted, or taken over meanwhile: nothing of ours to hand back.
        if (current?.holderIdentity !== this.identity) return;
        const now = microTime(this.#clock.wallNow());
        const released: LeaseRecord = {
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.leaseTransitions ?? 0,
        };
        await this.lock.update(released, d.signal);
        this.#observe(released, this.#clock.now());
        this.#log.info("released lease {lease}");
        return;
      } catch (err) {
        current = undefined;
        // A conflict means someone wrote in between: re-read at once. Anything else gets a pause.
        if (!isConflict(err)) {
          this.#log.warning("releasing lease {lease} failed: {error}", { error: (err as Error).message });
          await abortableDelay(this.#clock, Math.min(500, this.retryPeriodMs));
        }
      } finally {
        d.dispose();
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

  #setLeading(v: boolean): void {
    this.#leading = v;
    this.#status.set({ name: this.lock.name }, v ? 1 : 0);
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
    await this.#renewLoop;
    this.#renewLoop = undefined;
  }

  /** Renews every retry period (no jitter); between failed tries, pauses a retry period up to the deadline. */
  async #renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await abortableDelay(this.#clock, this.retryPeriodMs, signal);
      if (signal.aborted) return;
      for (;;) {
        const left = this.#lastRenew + this.renewDeadlineMs - this.#clock.now();
        if (left <= 0) {
          return this.#lose(`no successful renewal within the renew deadline (${this.renewDeadlineMs} ms)`);
        }
        const ok = await this.#tryAcquireOrRenew(signal, Math.min(this.requestTimeoutMs, left));
        if (signal.aborted) return;
        if (ok) break;
        const holder = this.#observed?.holderIdentity;
        if (holder && holder !== this.identity) return this.#lose(`the lease is now held by ${holder}`);
        const wait = Math.min(this.retryPeriodMs, this.#lastRenew + this.renewDeadlineMs - this.#clock.now());
        if (wait > 0) await abortableDelay(this.#clock, wait, signal);
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
      // Fast path: we lead and our view of the record is current, so renew the version we hold.
      if (this.#leading && this.#observed && this.#observedTime + this.leaseDurationMs > now) {
        const renewed = { ...this.#observed, holderIdentity: this.identity, renewTime: wall };
        try {
          await this.lock.update(renewed, d.signal);
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
      const current = await this.lock.get(d.signal);
      if (!current) {
        const created: LeaseRecord = {
          holderIdentity: this.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: wall,
          renewTime: wall,
          leaseTransitions: 0,
        };
        await this.lock.create(created, d.signal);
        return this.#won(created, now);
      }
      const raw = canonical(current);
      if (raw !== this.#observedRaw) {
        // Expiry is judged by when *we* saw the record change, never by its timestamps (clock skew).
        this.#observedRaw = raw;
        this.#observedTime = this.#clock.now();
        if (current.holderIdentity !== this.#observed?.holderIdentity) {
          this.#log.info("lease {lease} is held by {holder}", {
            holder: current.holderIdentity || "(nobody)",
          });
        }
      }
      this.#observed = current;
      const holder = current.holderIdentity ?? "";
      const holderMs = (current.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (holder && holder !== this.identity && this.#observedTime + holderMs > this.#clock.now()) {
        return false;
      }
      const ours = holder === this.identity;
      const taken: LeaseRecord = {
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: ours && current.acquireTime ? current.acquireTime : wall,
        renewTime: wall,
        leaseTransitions: ours ? current.leaseTransitions ?? 0 : (current.leaseTransitions ?? 0) + 1,
      };
      await this.lock.update(taken, d.signal);
      return this.#won(taken, now);
    } catch (err) {
      if (!parent?.aborted) this.#attemptFailed(err);
      return false;
    } finally {
      d.dispose();
    }
  }

  /** A write of `record` went through for the attempt that started at `startedAt`. */
  #won(record: LeaseRecord, startedAt: number): true {
    this.#observe(record, this.#clock.now());
    this.#lastRenew = startedAt;
    this.#problem = undefined;
    return true;
  }

  /**
   * A failed attempt. Transient failures (a restart, a conflict) are routine and stay at debug;
   * a refusal the lock says will not go away by itself is an error, logged once per cause and
   * reported by {@link problem}.
   */
  #attemptFailed(err: unknown): void {
    const problem = this.lock.problem?.(err);
    if (problem) {
      if (problem !== this.#problem) this.#log.error("{problem}", { problem });
      this.#problem = problem;
      return;
    }
    this.#log.debug("lease {lease}: attempt failed: {error}", { error: (err as Error).message });
  }

  #observe(record: LeaseRecord, at: number): void {
    this.#observed = record;
    this.#observedRaw = canonical(record);
    this.#observedTime = at;
  }
}
