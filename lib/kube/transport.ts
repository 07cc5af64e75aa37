/**
 * The single seam between the API client and the network: a request in, a standard `Response`
 * out. {@link HttpTransport} talks to a real server; tests hand the client any other
 * {@link Transport} (a fake, a fault injector) and every higher layer works unchanged.
 */
import { type Credentials, type CredentialSource, staticCredentials } from "./credentials.ts";
import { ConfigError, ConnectionError } from "./errors.ts";
import { describeNetworkError } from "./network-errors.ts";
import { createTlsFetcher, runtimeVersion, type TlsFetcher, type TlsSettings } from "./tls.ts";

/** One HTTP request to the API server; `path` is absolute (`/api/v1/...`). */
export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: URLSearchParams;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** A long-lived streaming response (watch): no idle timer on the transport. */
  stream?: boolean;
}

/** Performs requests; the response body is left unread for the caller. */
export interface Transport {
  /** Base URL, for logs and metrics. */
  readonly server: string;
  request(req: KubeRequest): Promise<Response>;
  /** Frees pooled connections. */
  close(): void;
}

/** Everything needed to reach and authenticate to one API server. */
export interface ConnectionSettings {
  server: string;
  tls: Omit<TlsSettings, "cert" | "key">;
  credentials?: CredentialSource;
  userAgent?: string;
}

/** The default User-Agent: name/version (os/arch) runtime. */
export function defaultUserAgent(): string {
  const p = (globalThis as unknown as { process?: { platform?: string; arch?: string } }).process;
  return `dataflow-operator/0.1.0 (${p?.platform ?? "unknown"}/${p?.arch ?? "unknown"}) ${runtimeVersion()}`;
}

/** A transport over fetch with TLS, bearer/basic auth and one retry after a 401. */
export class HttpTransport implements Transport {
  readonly server: string;
  #settings: ConnectionSettings;
  #credentials: CredentialSource;
  #fetcher?: TlsFetcher;
  #fetcherCert?: string;
  #userAgent: string;

  constructor(settings: ConnectionSettings) {
    this.server = settings.server.replace(/\/+$/, "");
    this.#settings = settings;
    this.#credentials = settings.credentials ?? staticCredentials({});
    this.#userAgent = settings.userAgent ?? defaultUserAgent();
  }

  async request(req: KubeRequest): Promise<Response> {
    let res = await this.#send(req, await this.#credentials.get());
    if (res.status === 401) {
      // Credentials may have rotated (token file, exec plugin): fetch fresh ones and try once more.
      await res.body?.cancel();
      this.#credentials.invalidate();
      res = await this.#send(req, await this.#credentials.get());
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
        stream: req.stream,
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
