/**
 * A TCP proxy on 127.0.0.1 between a client (typically a separate operator process, pointed at
 * the proxy by its kubeconfig) and the API server. TLS passes through untouched, so the server
 * certificate still matches (both listen on 127.0.0.1). On command it cuts every connection,
 * refuses new ones, or blackholes traffic (connections stay open, no bytes move: what a network
 * partition looks like to the client).
 *
 * ```ts
 * const proxy = await TcpProxy.start({ target: cp.info.server });
 * // write a kubeconfig with server: proxy.url, start the operator process ...
 * proxy.blackhole();   // the operator can no longer reach the API server
 * proxy.restore();
 * await proxy.close();
 * ```
 */
import { createServer, type Server, type Socket } from "node:net";
import { connect } from "node:net";

/** Options of {@link TcpProxy.start}. */
export interface TcpProxyOptions {
  /** The upstream, as a URL (`https://127.0.0.1:6443`) or `host:port`. */
  target: string;
  /** Listen port (default: a free one). */
  port?: number;
}

/** The proxy's state: forwarding, refusing new connections, or silently dropping all bytes. */
export type ProxyMode = "forward" | "refuse" | "blackhole";

interface Pair {
  client: Socket;
  upstream?: Socket;
}

/** A running proxy. */
export class TcpProxy {
  #server: Server;
  #pairs = new Set<Pair>();
  #mode: ProxyMode = "forward";
  #host: string;
  #targetPort: number;
  /** Connections accepted so far. */
  connections = 0;
  /** Bytes forwarded client→server and server→client. */
  bytes = { up: 0, down: 0 };

  private constructor(server: Server, host: string, port: number) {
    this.#server = server;
    this.#host = host;
    this.#targetPort = port;
  }

  /** Starts listening on 127.0.0.1. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const t = /^[a-z]+:\/\//.test(options.target)
      ? new URL(options.target)
      : new URL(`tcp://${options.target}`);
    const host = t.hostname.replace(/^\[|\]$/g, "");
    const port = Number(t.port || (t.protocol === "https:" ? 443 : 80));
    const server = createServer();
    const proxy = new TcpProxy(server, host, port);
    server.on("connection", (s) => proxy.#accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  /** The proxy's port. */
  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** `https://127.0.0.1:<port>`: the server URL for the client's kubeconfig. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The current mode. */
  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Open client connections. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Destroys every open connection (the client sees a reset); new ones are still accepted. */
  cutAll(): void {
    for (const p of [...this.#pairs]) this.#drop(p);
  }

  /** Cuts every connection and refuses (resets) new ones until {@link restore}. */
  refuse(): void {
    this.#mode = "refuse";
    this.cutAll();
  }

  /**
   * Stops moving bytes in both directions, keeping connections open, and accepts new connections
   * without ever forwarding them, until {@link restore}. Requests hang; only client timeouts end them.
   */
  blackhole(): void {
    this.#mode = "blackhole";
    for (const p of this.#pairs) {
      p.client.pause();
      p.upstream?.pause();
    }
  }

  /**
   * Forwards again. Connections that were blackholed are cut (their bytes were lost, as after a
   * real partition), so clients reconnect cleanly.
   */
  restore(): void {
    const wasBlackhole = this.#mode === "blackhole";
    this.#mode = "forward";
    if (wasBlackhole) this.cutAll();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.connections++;
    client.on("error", () => {});
    if (this.#mode === "refuse") {
      client.resetAndDestroy?.() ?? client.destroy();
      return;
    }
    const pair: Pair = { client };
    this.#pairs.add(pair);
    client.on("close", () => this.#drop(pair));
    if (this.#mode === "blackhole") {
      client.pause();
      return;
    }
    const upstream = connect({ host: this.#host, port: this.#targetPort });
    pair.upstream = upstream;
    upstream.on("error", () => this.#drop(pair));
    upstream.on("close", () => this.#drop(pair));
    client.on("data", (d: Uint8Array) => {
      if (this.#mode !== "forward") return;
      this.bytes.up += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d: Uint8Array) => {
      if (this.#mode !== "forward") return;
      this.bytes.down += d.length;
      client.write(d);
    });
  }

  #drop(p: Pair): void {
    if (!this.#pairs.delete(p)) return;
    p.client.destroy();
    p.upstream?.destroy();
  }
}
