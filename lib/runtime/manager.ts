/**
 * The manager: runs an operator's parts as {@link Runnable}s in four groups, started in order and
 * stopped in reverse (controller-runtime's runnable groups; the behaviour is specified in
 * docs/behaviour/manager.md):
 *
 * 1. servers: /healthz, /readyz and /metrics, so probes answer from the first second;
 * 2. services: what the others use while they run, such as the event recorder (anything with
 *    `close()`), so it outlives everything that may emit;
 * 3. caches: informers, on every replica, so standbys keep warm caches;
 * 4. leader-only: controllers, started once this replica leads (each waits for its caches).
 *
 * Leader election runs between caches and leader-only runnables and the lease is held until all
 * but the servers stopped. Graceful stop (SIGTERM, {@link Manager.stop}, a failing runnable):
 * leader-only runnables drain (capped by the shutdown timeout), caches stop, services flush, the
 * lease is released, the servers close. Lost leadership skips all of that: everything is aborted,
 * writes are fenced at once, and `run` resolves 1 so the process exits and restarts clean.
 */
import { KubeClient } from "../kube/client.ts";
import { type HealthCheck, HealthChecks } from "../observe/http.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry, type Registry } from "../observe/metrics.ts";
import { type Clock, realClock } from "../time/clock.ts";
import { FencedTransport } from "./fence.ts";
import { LeaderElector } from "./lease.ts";
import { ObserveServers } from "./observe-servers.ts";
import { readyCheckName, type Runnable } from "./runnable.ts";
import { type RunnableErrorPhase, RunnableGroup } from "./runnable-group.ts";
import {
  cacheRunnable,
  type Closer,
  closerRunnable,
  controllerRunnable,
  isManagedCache,
  type ManagedCache,
  type ManagedController,
} from "./runnables.ts";
import { exitProcess, onTerminationSignals, type TerminationSignal } from "./signals.ts";

export type { Closer, ManagedCache, ManagedController } from "./runnables.ts";

/** Leader election settings of a {@link Manager}. */
export interface ManagerLeaderElection {
  /** The Lease's namespace. */
  namespace: string;
  /** The Lease's name, e.g. "dataflow-operator.dataflow.io". */
  leaseName: string;
  /** This replica's identity (default: POD_NAME or the host name, plus a random suffix). */
  identity?: string;
  /** How long a lease is valid without renewal (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a renewal before it gives up (default 10 s). */
  renewDeadlineMs?: number;
  /** Pause between attempts (default 2 s). */
  retryPeriodMs?: number;
  /** Hand the lease back on graceful shutdown (default true). */
  releaseOnCancel?: boolean;
}

/** A readiness or liveness check: passes unless it throws or returns false (or a failure reason string). */
export type Check = HealthCheck;

/** Options of {@link Manager}. */
export interface ManagerOptions {
  /** The API client. Controllers should write through {@link Manager.client}, the fenced copy. */
  client: KubeClient;
  /** Name for logs. */
  name: string;
  /** Lease election (default: off). */
  leaderElection?: ManagerLeaderElection | false;
  /** Address of /healthz and /readyz, e.g. ":9091" or "127.0.0.1:0"; "" or "0" disables (default ":9091"). */
  healthBindAddress?: string;
  /** Address of /metrics (default ":9090"); "" or "0" disables; may equal the health address. */
  metricsBindAddress?: string;
  /** Cap of graceful shutdown (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Registry served on /metrics (default: the process registry). */
  registry?: Registry;
  /** Install SIGTERM/SIGINT handlers in {@link Manager.run} (default true). */
  handleSignals?: boolean;
  /** What a second signal does (default `process.exit(1)`); tests replace it. */
  forceExit?: (code: number) => void;
  /** The clock of shutdown deadlines and of leader election (default: the real clock). */
  clock?: Clock;
}

/** How long the stopped runnables of a group get to return before the next group stops. */
const SETTLE_MS = 1_000;
/** The least time the services (the event recorder) get to flush. */
const FLUSH_FLOOR_MS = 1_000;

/** Resolves when the first of the signals aborts. */
function firstAbort(...signals: (AbortSignal | undefined)[]): Promise<void> {
  return new Promise((resolve) => {
    const present = signals.filter((s): s is AbortSignal => s !== undefined);
    if (present.some((s) => s.aborted)) return resolve();
    const done = () => {
      for (const s of present) s.removeEventListener("abort", done);
      resolve();
    };
    for (const s of present) s.addEventListener("abort", done, { once: true });
  });
}

/** Starts and stops an operator's parts. */
export class Manager {
  /** The options it was built with. */
  readonly options: ManagerOptions;
  /**
   * The client to write with: the same transport as `options.client`, behind a fence that refuses
   * writes whenever this replica is not the leader (always open without leader election until
   * the manager stops after lost leadership).
   */
  readonly client: KubeClient;
  /** The leader elector, when leader election is on. */
  readonly elector?: LeaderElector;
  /** Liveness checks, served on /healthz. */
  readonly health: HealthChecks = new HealthChecks();
  /** Readiness checks, served on /readyz (each runnable's readiness joins them). */
  readonly ready: HealthChecks = new HealthChecks();
  #clock: Clock;
  #observe: ObserveServers;
  #servers: RunnableGroup;
  #services: RunnableGroup;
  #caches: RunnableGroup;
  #leaderOnly: RunnableGroup;
  /** What was added (the informer, controller or closer itself), so adding it twice does nothing. */
  #added = new Set<object>();
  /** Aborted by {@link stop} (and the first termination signal). */
  #stop = new AbortController();
  /** Aborted by a stop or by the first failure: either ends the running phase. */
  #halt = new AbortController();
  #failure?: { error: unknown };
  #stopping = false;
  #lost = false;
  #running = false;
  #log;

  /** Builds the manager; nothing starts until {@link Manager.run}. */
  constructor(options: ManagerOptions) {
    this.options = options;
    this.#clock = options.clock ?? realClock;
    const registry = options.registry ?? defaultRegistry;
    if (options.leaderElection) {
      const le = options.leaderElection;
      this.elector = new LeaderElector({
        client: options.client,
        namespace: le.namespace,
        leaseName: le.leaseName,
        identity: le.identity,
        leaseDurationMs: le.leaseDurationMs,
        renewDeadlineMs: le.renewDeadlineMs,
        retryPeriodMs: le.retryPeriodMs,
        clock: options.clock,
        registry,
      });
    }
    this.client = new KubeClient(new FencedTransport(options.client.transport, () => this.writesAllowed()), {
      namespace: options.client.namespace,
      registry,
      clock: options.clock,
    });
    this.health.add("ping", () => true);
    if (this.elector) {
      const elector = this.elector;
      this.health.add(
        "leaderElection",
        () => elector.healthy() || "the lease has not been renewed for too long",
      );
      // A standby waiting for another holder is ready; one that may not take the Lease at all is not.
      this.ready.add("leaderElection", () => elector.problem ?? true);
    }
    this.#log = logger("runtime", "manager").with({ manager: options.name });
    const group = (name: string) =>
      new RunnableGroup(name, {
        clock: this.#clock,
        onError: (r, err, phase) => this.#onError(r, err, phase),
      });
    this.#servers = group("servers");
    this.#services = group("services");
    this.#caches = group("caches");
    this.#leaderOnly = group("leader-only");
    this.#observe = new ObserveServers({
      healthBindAddress: options.healthBindAddress ?? ":9091",
      metricsBindAddress: options.metricsBindAddress ?? ":9090",
      health: this.health,
      ready: this.ready,
      registry,
    });
    this.#servers.add(this.#observe);
  }

  /** Whether writes may go out now: while leading (or always without leader election), never after leadership was lost. */
  writesAllowed(): boolean {
    if (this.#lost) return false;
    return this.elector ? this.elector.isLeader() : true;
  }

  /** Whether this replica currently leads (always true without leader election). */
  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : !this.#lost;
  }

  /** The ports the HTTP endpoints bound (health first; useful with port 0). */
  get ports(): number[] {
    return this.#observe.ports;
  }

  /** The error of the runnable whose failure stopped the manager, if one did. */
  get failure(): unknown {
    return this.#failure?.error;
  }

  /**
   * Adds a runnable: a leader-only one starts once this replica leads, any other at once with the
   * services (before the caches, and stopped after them). Its readiness check joins /readyz.
   */
  add(runnable: Runnable): this {
    return this.#add(runnable.leaderOnly ? this.#leaderOnly : this.#services, runnable, runnable);
  }

  /** Adds an informer; informers start at once on every replica (standbys keep warm caches). Its readiness check is added too. */
  addInformer(informer: ManagedCache): this {
    return this.#add(this.#caches, cacheRunnable(informer), informer);
  }

  /**
   * Adds a controller and the informers it reads (as {@link addInformer}); its workers start only
   * while leading and after its informers synced.
   */
  addController(controller: ManagedController): this {
    this.#add(this.#leaderOnly, controllerRunnable(controller), controller);
    for (const source of controller.informers) if (isManagedCache(source)) this.addInformer(source);
    return this;
  }

  /** Adds something to flush at shutdown (e.g. the event recorder); `name` is for log lines. */
  addCloser(closer: Closer, name = "closer"): this {
    return this.#add(this.#services, closerRunnable(closer, name), closer);
  }

  /** Adds a named readiness check (on /readyz and /readyz/<name>). */
  addReadyCheck(name: string, check: Check): this {
    this.ready.add(name, check);
    return this;
  }

  /** Adds a named liveness check (on /healthz and /healthz/<name>). */
  addHealthCheck(name: string, check: Check): this {
    this.health.add(name, check);
    return this;
  }

  /** Begins graceful shutdown (what SIGTERM does). */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    const reason = new Error("manager stopping");
    this.#stop.abort(reason);
    if (!this.#halt.signal.aborted) this.#halt.abort(reason);
  }

  /**
   * Runs until stopped; resolves with the exit code: 0 after a graceful shutdown, 1 after lost
   * leadership, a failed start or a failing runnable (e.g. caches that never synced) or a
   * shutdown that timed out.
   */
  async run(): Promise<number> {
    if (this.#running) throw new Error("manager: run() was already called");
    this.#running = true;
    const removeSignals = this.options.handleSignals !== false
      ? onTerminationSignals((signal, count) => this.#onSignal(signal, count))
      : () => {};
    try {
      return await this.#run();
    } finally {
      removeSignals();
    }
  }

  #add(group: RunnableGroup, runnable: Runnable, key: object): this {
    if (this.#added.has(key)) return this;
    group.add(runnable); // first: it throws once the group stops, and a refused runnable leaves no trace
    this.#added.add(key);
    if (runnable.ready) this.ready.add(readyCheckName(runnable), () => runnable.ready!());
    return this;
  }

  async #run(): Promise<number> {
    try {
      await this.#observe.listen();
    } catch (err) {
      this.#log.error("cannot serve health/metrics: {error}", { error: (err as Error).message });
      return 1;
    }
    for (const g of [this.#servers, this.#services, this.#caches]) g.start();
    const leading = this.elector ? await this.elector.acquire(this.#halt.signal) : true;
    // A standby that is shutting down (or a manager stopped before it got here) starts no leader-only work.
    if (leading && !this.#halt.signal.aborted) this.#leaderOnly.start();

    const lost = this.elector?.leadingSignal;
    await firstAbort(this.#halt.signal, lost);
    if (lost?.aborted && !this.#stop.signal.aborted) return await this.#onLost(lost.reason);
    return await this.#shutdown();
  }

  /** Leadership lost: no graceful drain (another replica may already be taking over). */
  async #onLost(reason: unknown): Promise<number> {
    this.#stopping = true;
    this.#lost = true;
    this.#log.error("leadership lost; stopping at once without draining");
    const groups = [this.#leaderOnly, this.#caches, this.#services];
    for (const g of groups) g.abort(reason);
    const deadline = this.#clock.now() + SETTLE_MS;
    for (const g of groups) await g.settled(Math.max(0, deadline - this.#clock.now()));
    this.elector?.stop();
    await this.#servers.stop(SETTLE_MS);
    return 1;
  }

  async #shutdown(): Promise<number> {
    this.#stopping = true;
    const timeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
    const deadline = this.#clock.now() + timeoutMs;
    const left = () => Math.max(0, deadline - this.#clock.now());
    this.#log.info("shutting down: draining in-flight reconciles (up to {timeoutMs} ms)", { timeoutMs });
    const drained = await this.#leaderOnly.stop(left());
    // A full second even when the drain used the whole grace period: the reconciles it cut off
    // unwind before the caches and the event recorder they use stop.
    await this.#leaderOnly.settled(SETTLE_MS);
    const unfinished: string[] = [];
    if (!(await this.#stopGroup(this.#caches, left()))) unfinished.push(this.#caches.name);
    // The event recorder gets time to flush even when draining used the whole grace period.
    const flushMs = Math.max(FLUSH_FLOOR_MS, left());
    if (!(await this.#stopGroup(this.#services, flushMs))) unfinished.push(this.#services.name);
    if (this.elector) {
      const le = this.options.leaderElection;
      const release = le && le.releaseOnCancel !== false;
      // Releasing is only safe when every reconcile finished; otherwise let the lease expire.
      if (release && drained) await this.elector.release();
      else this.elector.stop();
    }
    await this.#servers.stop(SETTLE_MS);
    if (!drained) {
      this.#log.error("failed waiting for all reconciles to end within the grace period of {timeoutMs} ms", {
        timeoutMs,
      });
      return 1;
    }
    if (unfinished.length) {
      this.#log.error(
        "failed waiting for the {groups} runnables to stop within the grace period of {timeoutMs} ms",
        {
          groups: unfinished.join(", "),
          timeoutMs,
        },
      );
      return 1;
    }
    if (this.#failure) return 1;
    this.#log.info("shut down cleanly");
    return 0;
  }

  /** Stops a group gracefully and gives its runnables a moment to return; resolves whether every stop finished in time. */
  async #stopGroup(group: RunnableGroup, timeoutMs: number): Promise<boolean> {
    const finished = await group.stop(timeoutMs);
    await group.settled(SETTLE_MS);
    return finished;
  }

  #onError(runnable: Runnable, err: unknown, phase: RunnableErrorPhase): void {
    const fields = { runnable: runnable.name, error: err instanceof Error ? err.message : String(err) };
    if (phase === "stop") return this.#log.warning("stopping {runnable} failed: {error}", fields);
    if (this.#stopping) return this.#log.warning("{runnable} failed while stopping: {error}", fields);
    this.#log.error("{runnable} failed: {error}", fields);
    this.#failure ??= { error: err };
    if (!this.#halt.signal.aborted) this.#halt.abort(err);
  }

  #onSignal(signal: TerminationSignal, count: number): void {
    if (count === 1) {
      this.#log.info("received {signal}; shutting down gracefully (send it again to exit at once)", {
        signal,
      });
      this.stop();
    } else {
      this.#log.error("received {signal} again; exiting at once", { signal });
      (this.options.forceExit ?? exitProcess)(1);
    }
  }
}
