/**
 * The manager's health and metrics endpoints as one {@link Runnable}: /healthz and /readyz on the
 * health address, /metrics on the metrics address, one server when both addresses are equal,
 * none for a disabled address ("" or "0"). They are the first runnables to start (probes answer
 * from the first second) and the last to stop.
 */
import {
  type HealthChecks,
  isDisabledAddress,
  type ObserveServer,
  startObserveServer,
} from "../observe/http.ts";
import type { Registry } from "../observe/metrics.ts";
import type { Runnable } from "./runnable.ts";

/** Where and what {@link ObserveServers} serve. */
export interface ObserveServersOptions {
  /** Address of /healthz and /readyz; "" or "0" disables. */
  healthBindAddress: string;
  /** Address of /metrics; "" or "0" disables; may equal the health address. */
  metricsBindAddress: string;
  /** Liveness checks, on /healthz. */
  health: HealthChecks;
  /** Readiness checks, on /readyz. */
  ready: HealthChecks;
  /** What /metrics serves. */
  registry: Registry;
}

/** The health and metrics HTTP servers. */
export class ObserveServers implements Runnable {
  /** For log lines. */
  readonly name = "health and metrics servers";
  #options: ObserveServersOptions;
  #servers: ObserveServer[] = [];
  #listening?: Promise<void>;
  #closing?: Promise<void>;

  /** Nothing is bound until {@link listen} or {@link start}. */
  constructor(options: ObserveServersOptions) {
    this.#options = options;
  }

  /** The bound ports, health server first (useful with port 0). */
  get ports(): number[] {
    return this.#servers.map((s) => s.port);
  }

  /** Binds the servers (once); rejects when an address cannot be bound, closing any already bound. */
  listen(): Promise<void> {
    this.#listening ??= this.#listen().catch(async (err) => {
      await this.#close();
      throw err;
    });
    return this.#listening;
  }

  /** Serves until `signal` aborts, then closes. */
  async start(signal: AbortSignal): Promise<void> {
    await this.listen();
    if (!signal.aborted) {
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    }
    await this.#close();
  }

  /** Closes the servers (idle connections too). */
  async stop(): Promise<void> {
    await this.#close();
  }

  async #listen(): Promise<void> {
    const { healthBindAddress: h, metricsBindAddress: m, health, ready, registry } = this.#options;
    if (!isDisabledAddress(h) && h === m) {
      this.#servers.push(await startObserveServer({ address: h, health, ready, registry }));
      return;
    }
    if (!isDisabledAddress(h)) {
      this.#servers.push(await startObserveServer({ address: h, health, ready, registry: false }));
    }
    if (!isDisabledAddress(m)) this.#servers.push(await startObserveServer({ address: m, registry }));
  }

  #close(): Promise<void> {
    // Best effort at the very end of a shutdown: a server that fails to close dies with the process.
    this.#closing ??= Promise.all(this.#servers.map((s) => s.close().catch(() => {}))).then(() => {});
    return this.#closing;
  }
}
