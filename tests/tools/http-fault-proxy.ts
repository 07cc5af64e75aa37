/**
 * An HTTPS-terminating proxy in front of the test API server that puts a {@link FaultTransport}
 * between a SEPARATE client process (an operator, pointed at the proxy by its kubeconfig) and
 * the real server. Where {@link TcpProxy} can only cut, refuse or blackhole TCP, this one sees
 * each request, so the same faults the in-process tests use reach the operator process: 429 with
 * Retry-After, a share of 500s, watch streams cut off mid-body or stalled.
 *
 * The proxy serves a certificate signed by the control plane's own CA (the client's kubeconfig
 * trusts it unchanged) and forwards each request's headers as they came, Authorization included,
 * so the client keeps its own identity (the operator's least-privilege ServiceAccount token);
 * the proxy holds no credentials of its own. Client certificates cannot pass through a
 * terminating proxy: use token identities behind it.
 *
 * Deno only (`Deno.serve`); the fault suite runs on Deno.
 *
 * ```ts
 * const proxy = await HttpFaultProxy.forControlPlane(cp, { random: prng.next });
 * // kubeconfig server: proxy.url (or a TcpProxy whose target is proxy.url, for network cuts)
 * proxy.faults.failShare(0.1);
 * proxy.faults.throttle({ count: 20, retryAfterSeconds: 1 });
 * proxy.faults.cutWatches();
 * await proxy.close();
 * ```
 */
import { join } from "node:path";
import type { ControlPlane } from "../controlplane/harness.ts";
import { issueCert } from "../controlplane/certs.ts";
import { ConnectionError } from "../../lib/kube/errors.ts";
import type { KubeRequest, Transport } from "../../lib/kube/transport.ts";
import { FaultTransport } from "./fault-transport.ts";

/** Options of {@link HttpFaultProxy.start}. */
export interface HttpFaultProxyOptions {
  /** The real API server, e.g. `https://127.0.0.1:6443`. */
  upstream: string;
  /** PEM of the CA that signed the upstream's serving certificate. */
  ca: string;
  /** PEM serving certificate (with an IP:127.0.0.1 SAN) and key of the proxy. */
  cert: string;
  key: string;
  /** Randomness for {@link FaultTransport.failShare} (pass a seeded PRNG for reproducible runs). */
  random?: () => number;
}

// Hop-by-hop and recomputed headers: never forwarded in either direction.
const HOP = new Set([
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "accept-encoding",
  "content-encoding",
  "te",
  "trailer",
  "proxy-connection",
]);
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

let issued = 0;

/**
 * The upstream leg over HTTP/1.1 only: one connection per request in flight. Over one shared
 * HTTP/2 connection, a watch the proxy holds back (stalled, or its client partitioned) would use
 * up the connection's flow-control window and freeze every other request of every client of the
 * proxy, a head-of-line block no direct client of the API server has.
 */
class Http1Upstream implements Transport {
  readonly server: string;
  #client: Deno.HttpClient;

  constructor(server: string, ca: string) {
    this.server = server.replace(/\/+$/, "");
    this.#client = Deno.createHttpClient({ caCerts: [ca], http2: false });
  }

  async request(req: KubeRequest): Promise<Response> {
    const qs = req.query?.toString();
    try {
      return await fetch(`${this.server}${req.path}${qs ? `?${qs}` : ""}`, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        client: this.#client,
      });
    } catch (err) {
      throw new ConnectionError(
        `${req.method} ${req.path}: upstream ${this.server}: ${(err as Error).message}`,
        {
          code: 0,
          request: `${req.method} ${req.path}`,
          cause: err,
        },
      );
    }
  }

  close(): void {
    this.#client.close();
  }
}

function statusResponse(code: number, reason: string, message: string, retryAfter?: number): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
  const body = { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message };
  return new Response(JSON.stringify(body), { status: code, headers });
}

/** A running proxy; inject faults through {@link HttpFaultProxy.faults}. */
export class HttpFaultProxy {
  /** The fault layer every proxied request passes through (its counters see every request). */
  readonly faults: FaultTransport;
  /** Requests the upstream could not be reached for (answered 503, as an L7 load balancer does). */
  upstreamFailures = 0;
  #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(faults: FaultTransport, server: Deno.HttpServer<Deno.NetAddr>) {
    this.faults = faults;
    this.#server = server;
  }

  /** Starts listening on 127.0.0.1 (a free port). */
  static async start(options: HttpFaultProxyOptions): Promise<HttpFaultProxy> {
    // No credentials: each request carries the client's own Authorization header.
    const upstream = new Http1Upstream(options.upstream, options.ca);
    const faults = new FaultTransport(upstream, { random: options.random });
    // The handler needs the proxy, which needs the server: a holder breaks the cycle.
    const holder: { proxy?: HttpFaultProxy } = {};
    const listening = Promise.withResolvers<void>();
    const server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        cert: options.cert,
        key: options.key,
        onListen: () => listening.resolve(),
        onError: (err) => statusResponse(502, "InternalError", `fault proxy: ${(err as Error).message}`),
      },
      (req) => holder.proxy!.#handle(req),
    );
    holder.proxy = new HttpFaultProxy(faults, server);
    await listening.promise;
    return holder.proxy;
  }

  /** Starts a proxy for a control plane, with a serving certificate minted by its CA. */
  static async forControlPlane(
    cp: ControlPlane,
    options: { random?: () => number } = {},
  ): Promise<HttpFaultProxy> {
    const pki = join(cp.info.dir, "pki");
    const ca = { dir: pki, certPath: join(pki, "ca.crt"), keyPath: join(pki, "ca.key") };
    const serving = await issueCert(ca, `fault-proxy-${Deno.pid}-${++issued}`, { cn: "fault-proxy" }, {
      serving: true,
    });
    return await HttpFaultProxy.start({
      upstream: cp.info.server,
      ca: cp.info.ca,
      cert: serving.cert,
      key: serving.key,
      random: options.random,
    });
  }

  /** The proxy's port. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** `https://127.0.0.1:<port>`: the server URL for the client's kubeconfig. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Cuts open watch streams and stops serving. */
  async close(): Promise<void> {
    this.faults.heal();
    this.faults.cutWatches(new TypeError("fault proxy closed"));
    // shutdown() waits for in-flight responses; cut watches end theirs, others are short.
    await Promise.race([this.#server.shutdown(), new Promise((r) => setTimeout(r, 5_000))]);
    this.faults.inner.close();
  }

  async #handle(req: Request): Promise<Response> {
    if (!METHODS.has(req.method)) {
      return statusResponse(405, "MethodNotAllowed", `fault proxy: ${req.method}`);
    }
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) if (!HOP.has(k)) headers[k] = v;
    const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
    const kreq: KubeRequest = {
      method: req.method as KubeRequest["method"],
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: req.body ? await req.text() : undefined,
      // No signal: Deno's request.signal also fires after a delivered response. A client that goes
      // away cancels the response body, which cancels the upstream stream (see FaultTransport).
      stream: watch,
    };
    let res: Response;
    try {
      res = await this.faults.request(kreq);
    } catch (err) {
      this.upstreamFailures++;
      return statusResponse(
        503,
        "ServiceUnavailable",
        `fault proxy: upstream unreachable: ${(err as Error).message}`,
        1,
      );
    }
    const out = new Headers();
    for (const [k, v] of res.headers) if (!HOP.has(k)) out.set(k, v);
    return new Response(res.body, { status: res.status, headers: out });
  }
}
