/**
 * The single seam between the API client and the network: a request in, a standard `Response`
 * out. {@link HttpTransport} talks to a real server; tests hand the client any other
 * {@link Transport} (a fake, a fault injector) and every higher layer works unchanged.
 *
 * A {@link Middleware} wraps one transport in another (the round-tripper pattern of client-go, the
 * layers of kube-rs): the client stacks retry, a per-attempt deadline, response typing and
 * metrics over the transport it is given (see client.ts), and a write gate (write-gate.ts) slots
 * in below them.
 */
import { type Credentials, type CredentialSource, staticCredentials } from "./credentials.ts";
import { ConfigError, ConnectionError } from "./errors.ts";
import { describeNetworkError } from "./network-errors.ts";
import { createTlsFetcher, runtimeVersion, type TlsFetcher, type TlsSettings } from "./tls.ts";

/** One HTTP request to the API server; `path` is absolute (`/api/v1/...`). */
export interface KubeRequest {
  /** The HTTP method; everything but GET is a write to a write gate. */
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The absolute path, e.g. `/api/v1/namespaces/n/configmaps/x`. */
  path: string;
  /** The query string's parameters. */
  query?: URLSearchParams;
  /** Request headers (Accept, Content-Type; the transport adds User-Agent and Authorization). */
  headers?: Record<string, string>;
  /** The body, already serialised (JSON or YAML), so a retry can send it again. */
  body?: string;
  /** Aborts the request, body reading included. */
  signal?: AbortSignal;
  /**
   * A long-lived streaming response (watch): no deadline, the body left unread for the caller, not
   * resent as a read is, and named `WATCH` in metrics and logs.
   */
  stream?: boolean;
}

/** Performs requests; the response body is left unread for the caller. */
export interface Transport {
  /** Base URL, for logs and metrics. */
  readonly server: string;
  /** Sends one request; resolves with the response (any status) or rejects when none came. */
  request(req: KubeRequest): Promise<Response>;
  /** Frees pooled connections. */
  close(): void;
}

/** The verb of a request as metrics and logs name it: `WATCH` for a stream, else the method. */
export function verbOf(req: KubeRequest): string {
  return req.stream ? "WATCH" : req.method;
}

/** Wraps a transport in another: the new one adds its behaviour and passes requests on to `next`. */
export type Middleware = (next: Transport) => Transport;

/**
 * A transport that adds `request` in front of `next`, keeping its server and passing `close` on:
 * the body of most middleware.
 */
export function wrapTransport(next: Transport, request: (req: KubeRequest) => Promise<Response>): Transport {
  return { server: next.server, request, close: () => next.close() };
}

/** `base` wrapped by `layers`, the first one outermost (the order in which a request passes them). */
export function stackTransport(base: Transport, ...layers: Middleware[]): Transport {
  return layers.reduceRight((inner, layer) => layer(inner), base);
}

/** Everything needed to reach and authenticate to one API server. */
export interface ConnectionSettings {
  /** The API server's URL, e.g. `https://10.0.0.1:6443`. */
  server: string;
  /** How its certificate is checked (client certificates come with the credentials). */
  tls: Omit<TlsSettings, "cert" | "key">;
  /** Where each request's credentials come from (default: none). */
  credentials?: CredentialSource;
  /** The whole User-Agent header (default {@link defaultUserAgent}: the toolkit's name and the runtime). */
  userAgent?: string;
}

/** The product named by {@link defaultUserAgent} when the application names none. */
export const TOOLKIT_USER_AGENT = "operator-toolkit";

/**
 * A User-Agent in client-go's shape, `<product> (<os>/<arch>) <runtime>/<version>`. Applications
 * pass their own product (`my-operator/1.2.0`) through `connect({ userAgent })` or
 * {@link ConnectionSettings.userAgent}, so API server audit logs and APF flow schemas can tell them
 * apart; the toolkit itself names no application.
 */
export function defaultUserAgent(product: string = TOOLKIT_USER_AGENT): string {
  const p = (globalThis as unknown as { process?: { platform?: string; arch?: string } }).process;
  return `${product} (${p?.platform ?? "unknown"}/${p?.arch ?? "unknown"}) ${runtimeVersion()}`;
}

/** A transport over fetch with TLS, bearer/basic auth and one retry after a 401. */
export class HttpTransport implements Transport {
  /** The server's URL without a trailing slash. */
  readonly server: string;
  #settings: ConnectionSettings;
  #credentials: CredentialSource;
  #fetcher?: TlsFetcher;
  #fetcherCert?: string;
  #userAgent: string;

  /** A transport to one server; nothing connects before the first request. */
  constructor(settings: ConnectionSettings) {
    this.server = settings.server.replace(/\/+$/, "");
    this.#settings = settings;
    this.#credentials = settings.credentials ?? staticCredentials({});
    this.#userAgent = settings.userAgent ?? defaultUserAgent();
  }

  /** Sends a request with current credentials, and once more with fresh ones after a 401. */
  async request(req: KubeRequest): Promise<Response> {
    let res = await this.#send(req, await untilAborted(this.#credentials.get(), req.signal));
    if (res.status === 401) {
      // Credentials may have rotated (token file, exec plugin): fetch fresh ones and try once more.
      await res.body?.cancel();
      this.#credentials.invalidate();
      res = await this.#send(req, await untilAborted(this.#credentials.get(), req.signal));
    }
    return res;
  }

  close(): void {
    this.#fetcher?.close();
    this.#fetcher = undefined;
  }

  #fetcherFor(creds: Credentials): TlsFetcher {
    const certKey = `${creds.cert ?? ""}\u0000${creds.key ?? ""}`;
    if (!this.#fetcher || this.#fetcherCert !== certKey) {
      // Connections are rebuilt only when the client certificate changes.
      this.#fetcher?.close();
      this.#fetcher = createTlsFetcher(
        { ...this.#settings.tls, cert: creds.cert, key: creds.key },
        this.server,
      );
      this.#fetcherCert = certKey;
    }
    return this.#fetcher;
  }

  async #send(req: KubeRequest, creds: Credentials): Promise<Response> {
    const headers: Record<string, string> = { "User-Agent": this.#userAgent, ...req.headers };
    if (!headers["Authorization"]) {
      if (creds.token) headers["Authorization"] = `Bearer ${creds.token}`;
      else if (creds.username !== undefined) {
        headers["Authorization"] = `Basic ${btoa(`${creds.username}:${creds.password ?? ""}`)}`;
      }
    }
    const qs = req.query?.toString();
    const url = `${this.server}${req.path}${qs ? `?${qs}` : ""}`;
    try {
      return await this.#fetcherFor(creds).fetch(url, {
        method: req.method,
        headers,
        body: req.body,
        signal: req.signal,
      });
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason ?? err;
      // A configuration the runtime cannot honour (tls.ts says which and what to do): not a network error.
      if (err instanceof ConfigError) throw err;
      const e = err as Error;
      throw new ConnectionError(`${req.method} ${req.path}: ${describeNetworkError(e, this.server)}`, {
        code: 0,
        request: `${req.method} ${req.path}`,
        cause: err,
      });
    }
  }
}

/**
 * `work`, or a rejection with the signal's reason as soon as it aborts: an exec plugin that hangs
 * must not outlast the request's deadline or its caller's abort. The work itself goes on (a
 * plugin run still caches what it returns); its outcome is no longer this request's, so a late
 * failure is left to the next request, which asks again.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
