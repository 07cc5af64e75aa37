/**
 * The one place that knows which runtime we are on: a `fetch` that speaks TLS with a given CA,
 * client certificate and key. Deno uses `Deno.createHttpClient`, Bun the `tls` option of its
 * `fetch`, Node the global fetch (custom TLS there needs the npm `undici` package, which is not a
 * dependency; a clear error says so).
 */
import { ConfigError } from "./errors.ts";

/** TLS settings of one connection target, PEM strings throughout. */
export interface TlsSettings {
  /** Trust roots; when set, the only roots (system CAs are not used). */
  ca?: string;
  /** Client certificate chain. */
  cert?: string;
  /** Client private key (PKCS#8, PKCS#1 or SEC1). */
  key?: string;
  /** Name to verify the server certificate against, instead of the URL's host. */
  serverName?: string;
  /** Skip verification of the server certificate (insecure-skip-tls-verify). */
  insecure?: boolean;
}

/** A fetch bound to TLS settings; close it to free pooled connections. */
export interface TlsFetcher {
  fetch(url: string, init: RequestInit): Promise<Response>;
  close(): void;
}

/** The JavaScript runtime this process runs on. */
export type RuntimeName = "deno" | "bun" | "node";

/** Detects the runtime. */
export function runtimeName(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Bun) return "bun";
  if (g.Deno) return "deno";
  return "node";
}

/** Version string of the runtime, for the User-Agent and reports. */
export function runtimeVersion(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Bun) return `bun/${g.Bun.version}`;
  if (g.Deno) return `deno/${g.Deno.version.deno}`;
  return `node/${(globalThis as unknown as { process: { version: string } }).process.version}`;
}

interface DenoHttpApi {
  createHttpClient(options: { caCerts?: string[]; cert?: string; key?: string }): { close(): void };
}

/** Creates a fetch for these TLS settings on the current runtime. */
export function createTlsFetcher(tls: TlsSettings, target: string): TlsFetcher {
  const runtime = runtimeName();
  const custom = Boolean(tls.ca || tls.cert || tls.key || tls.serverName || tls.insecure);
  if (tls.cert && !tls.key || tls.key && !tls.cert) {
    throw new ConfigError(`${target}: a client certificate needs its key and a key needs its certificate`);
  }
  if (runtime === "bun") {
    const tlsOption = custom
      ? {
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls.serverName ? { serverName: tls.serverName } : {}),
        ...(tls.insecure ? { rejectUnauthorized: false } : {}),
      }
      : undefined;
    return {
      // timeout:false turns off Bun's 5-minute idle timer; the client keeps its own deadlines.
      fetch: (url, init) =>
        fetch(url, { ...init, ...(tlsOption ? { tls: tlsOption } : {}), timeout: false } as RequestInit),
      close() {},
    };
  }
  if (runtime === "deno") {
    if (tls.insecure) {
      throw new ConfigError(
        `${target}: insecure-skip-tls-verify is not available per connection on Deno; ` +
          `set certificate-authority instead, or run Deno with --unsafely-ignore-certificate-errors=<host>`,
      );
    }
    if (tls.serverName) {
      throw new ConfigError(
        `${target}: tls-server-name is not supported on Deno; use a server URL whose host is in the certificate`,
      );
    }
    if (!custom) return { fetch: (url, init) => fetch(url, init), close() {} };
    const deno = (globalThis as unknown as { Deno: DenoHttpApi }).Deno;
    let client: { close(): void };
    try {
      client = deno.createHttpClient({
        ...(tls.ca ? { caCerts: [tls.ca] } : {}),
        ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
      });
    } catch (err) {
      throw new ConfigError(`${target}: the TLS settings were refused: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return {
      fetch: (url, init) => fetch(url, { ...init, client } as RequestInit),
      close: () => client.close(),
    };
  }
  if (custom) {
    throw new ConfigError(
      `${target}: custom TLS (CA, client certificate, insecure) on Node needs an undici Agent, which this build does not include; run on Deno or Bun`,
    );
  }
  return { fetch: (url, init) => fetch(url, init), close() {} };
}
