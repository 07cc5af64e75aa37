/**
 * The manager: one place that starts informers, leader election and controllers in order,
 * serves health and metrics, and stops everything in reverse on SIGTERM/SIGINT.
 *
 * Start order: HTTP endpoints (probes answer from the first second), informers (on every
 * replica, so standbys keep warm caches), leader election, then controllers (only while
 * leading; each waits for its informers to sync). Graceful stop: controllers stop taking keys
 * and finish in-flight reconciles (capped by the shutdown timeout), informers stop, closers
 * (e.g. the event recorder) flush, the lease is released, and the HTTP endpoints close last.
 * Lost leadership skips all of that: reconciles are aborted, writes are fenced at once, and
 * `run` resolves 1 so the process exits and restarts clean.
 */
import process from "node:process";
import { KubeClient, type KubeObject } from "../kube/client.ts";
import { logger } from "../observe/log.ts";
import { defaultRegistry, type Registry } from "../observe/metrics.ts";
import {
  type HealthCheck,
  HealthChecks,
  isDisabledAddress,
  type ObserveServer,
  startObserveServer,
} from "../observe/http.ts";
import type { Controller } from "./controller.ts";
import { FencedTransport } from "./fence.ts";
import type { Informer } from "./informer.ts";
import { LeaderElector } from "./lease.ts";

/** Leader election settings of a {@link Manager}. */
export interface ManagerLeaderElection {
  namespace: string;
  leaseName: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Hand the lease back on graceful shutdown (default true). */
  releaseOnCancel?: boolean;
}

/** Anything the manager flushes at shutdown (after controllers drained, before the lease is released). */
export interface Closer {
  /** Flushes and stops; the resolved value (e.g. a flush report) is ignored. */
  close(options?: { timeoutMs?: number }): Promise<unknown>;
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
}

function checkName(prefix: string, name: string): string {
  return `${prefix}-${name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-")}`;
}

/** Starts and stops an operator's parts. */
export class Manager {
  readonly options: ManagerOptions;
  /**
   * The client to write with: the same transport as `options.client`, behind a fence that refuses
   * writes whenever this replica is not the leader (always open without leader election until
   * the manager stops after lost leadership).
   */
  readonly client: KubeClient;
  /** The leader elector, when leader election is on. */
  readonly elector?: LeaderElector;
  readonly health = new HealthChecks();
  readonly ready = new HealthChecks();
  #informers: Informer<KubeObject>[] = [];
  #controllers: Controller[] = [];
  #closers: Closer[] = [];
  #stop = new AbortController();
  #lost = false;
  #servers: ObserveServer[] = [];
  #running = false;
  #log;

  constructor(options: ManagerOptions) {
    this.options = options;
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
        registry,
      });
    }
    this.client = new KubeClient(new FencedTransport(options.client.transport, () => this.writesAllowed()), {
      namespace: options.client.namespace,
      registry,
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

  /** The ports the HTTP endpoints bound (in start order; useful with port 0). */
  get ports(): number[] {
    return this.#servers.map((s) => s.port);
  }

  /** Adds an informer; informers start at once on every replica (standbys keep warm caches). Its readiness check is added too. */
  addInformer<T extends KubeObject>(informer: Informer<T>): this {
    const inf = informer as unknown as Informer<KubeObject>;
    if (this.#informers.includes(inf)) return this;
    this.#informers.push(inf);
    this.ready.add(checkName("informer", inf.name), () => {
      if (!inf.hasSynced()) return "not synced yet";
      if (inf.isStale()) return "watch is stale";
      return true;
    });
    return this;
  }

  /** Adds a controller (and its informers); its workers start only while leading and after its informers synced. */
  addController(controller: Controller): this {
    this.#controllers.push(controller);
    for (const i of controller.informers) this.addInformer(i);
    return this;
  }

  /** Adds something to flush at shutdown (e.g. the event recorder). */
  addCloser(closer: Closer): this {
    this.#closers.push(closer);
    return this;
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
    if (!this.#stop.signal.aborted) this.#stop.abort(new Error("manager stopping"));
  }

  /**
   * Runs until stopped; resolves with the exit code: 0 after a graceful shutdown, 1 after lost
   * leadership, a failed start (e.g. caches that never synced) or a shutdown that timed out.
   */
  async run(): Promise<number> {
    if (this.#running) throw new Error("manager: run() was already called");
    this.#running = true;
    const signals = this.options.handleSignals !== false ? this.#installSignals() : () => {};
    try {
      return await this.#run();
    } finally {
      signals();
    }
  }

  async #run(): Promise<number> {
    const stop = this.#stop.signal;
    try {
      await this.#startServers();
    } catch (err) {
      this.#log.error("cannot serve health/metrics: {error}", { error: (err as Error).message });
      return 1;
    }
    const informerRuns = this.#informers.map((i) => i.start(stop));
    let failure: unknown;
    let controllerRuns: Promise<void>[] = [];
    const failed = new AbortController();
    const startControllers = () => {
      controllerRuns = this.#controllers.map((c) =>
        c.start().catch((err) => {
          failure ??= err;
          this.#log.error("controller {controller} failed: {error}", {
            controller: c.name,
            error: (err as Error).message,
          });
          failed.abort(err);
        })
      );
    };
    if (this.elector) {
      const acquired = await this.elector.acquire(stop);
      // A standby that is shutting down never starts leader-only work.
      if (acquired && !stop.aborted) startControllers();
    } else startControllers();

    const lost = this.elector?.leadingSignal;
    await new Promise<void>((resolve) => {
      if (stop.aborted || failed.signal.aborted || lost?.aborted) return resolve();
      stop.addEventListener("abort", () => resolve(), { once: true });
      failed.signal.addEventListener("abort", () => resolve(), { once: true });
      lost?.addEventListener("abort", () => resolve(), { once: true });
    });

    if (lost?.aborted && !stop.aborted) return await this.#onLost(informerRuns);
    return await this.#shutdown(informerRuns, controllerRuns, failure);
  }

  /** Leadership lost: no graceful drain (another replica may already be taking over). */
  async #onLost(informerRuns: Promise<void>[]): Promise<number> {
    this.#lost = true;
    this.#log.error("leadership lost; stopping at once without draining");
    for (const c of this.#controllers) c.abort(this.elector!.leadingSignal.reason);
    for (const i of this.#informers) i.stop();
    await Promise.race([Promise.all(informerRuns), new Promise((r) => setTimeout(r, 1000))]);
    this.elector?.stop();
    await this.#closeServers();
    return 1;
  }

  async #shutdown(
    informerRuns: Promise<void>[],
    controllerRuns: Promise<void>[],
    failure: unknown,
  ): Promise<number> {
    const timeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    this.#log.info("shutting down: draining in-flight reconciles (up to {timeoutMs} ms)", { timeoutMs });
    const drained = (await Promise.all(this.#controllers.map((c) => c.stop({ timeoutMs: left() })))).every(
      Boolean,
    );
    await Promise.race([
      Promise.all(controllerRuns),
      new Promise((r) => setTimeout(r, Math.min(1000, left()))),
    ]);
    for (const i of this.#informers) i.stop();
    await Promise.race([Promise.all(informerRuns), new Promise((r) => setTimeout(r, 1000))]);
    for (const c of this.#closers) {
      try {
        await c.close({ timeoutMs: Math.max(1000, left()) });
      } catch (err) {
        this.#log.warning("flushing at shutdown failed: {error}", { error: (err as Error).message });
      }
    }
    if (this.elector) {
      const release = this.options.leaderElection && this.options.leaderElection.releaseOnCancel !== false;
      // Releasing is only safe when every reconcile finished; otherwise let the lease expire.
      if (release && drained) await this.elector.release();
      else this.elector.stop();
    }
    await this.#closeServers();
    if (!drained) {
      this.#log.error("failed waiting for all reconciles to end within the grace period of {timeoutMs} ms", {
        timeoutMs,
      });
      return 1;
    }
    if (failure) return 1;
    this.#log.info("shut down cleanly");
    return 0;
  }

  async #startServers(): Promise<void> {
    const h = this.options.healthBindAddress ?? ":9091";
    const m = this.options.metricsBindAddress ?? ":9090";
    const registry = this.options.registry ?? defaultRegistry;
    if (!isDisabledAddress(h) && h === m) {
      this.#servers.push(
        await startObserveServer({ address: h, health: this.health, ready: this.ready, registry }),
      );
      return;
    }
    if (!isDisabledAddress(h)) {
      this.#servers.push(
        await startObserveServer({ address: h, health: this.health, ready: this.ready, registry: false }),
      );
    }
    if (!isDisabledAddress(m)) this.#servers.push(await startObserveServer({ address: m, registry }));
  }

  async #closeServers(): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.close().catch(() => {})));
  }

  #installSignals(): () => void {
    let count = 0;
    const onSignal = (sig: string) => {
      count++;
      if (count === 1) {
        this.#log.info("received {signal}; shutting down gracefully (send it again to exit at once)", {
          signal: sig,
        });
        this.stop();
      } else {
        this.#log.error("received {signal} again; exiting at once", { signal: sig });
        (this.options.forceExit ?? ((code: number) => process.exit(code)))(1);
      }
    };
    const term = () => onSignal("SIGTERM");
    const int = () => onSignal("SIGINT");
    process.on("SIGTERM", term);
    process.on("SIGINT", int);
    return () => {
      process.off("SIGTERM", term);
      process.off("SIGINT", int);
    };
  }
}
