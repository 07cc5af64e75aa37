/**
 * Where the credentials of a request come from: fixed values, a token file that rotates
 * (service-account tokens), or an exec credential plugin. Each source caches and can be told
 * that the server answered 401, so the next request fetches fresh credentials.
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "./errors.ts";

/** What a request authenticates with. A client certificate changes the TLS connection. */
export interface Credentials {
  /** Bearer token. */
  token?: string;
  /** Basic-auth user name. */
  username?: string;
  /** Basic-auth password. */
  password?: string;
  /** Client certificate chain (PEM). */
  cert?: string;
  /** Client certificate's private key (PEM). */
  key?: string;
}

/** Supplies credentials for each request. */
export interface CredentialSource {
  /** Current credentials (cached by the source). */
  get(): Promise<Credentials>;
  /** The server answered 401 with these credentials: drop them so `get` fetches new ones. */
  invalidate(): void;
}

/** Credentials that never change. */
export function staticCredentials(creds: Credentials): CredentialSource {
  return { get: () => Promise.resolve(creds), invalidate() {} };
}

/**
 * A bearer token read from a file and re-read every `refreshMs` (60 s, like client-go and
 * kube-rs) and after a 401, so rotated service-account tokens are picked up.
 */
export function tokenFileCredentials(
  path: string,
  options: { refreshMs?: number; base?: Credentials; now?: () => number } = {},
): CredentialSource {
  const refreshMs = options.refreshMs ?? 60_000;
  // Monotonic: a wall clock stepped back would keep a rotated token for as long as the step.
  const now = options.now ?? (() => performance.now());
  let cached: { token: string; at: number } | undefined;
  return {
    async get() {
      if (!cached || now() - cached.at >= refreshMs) {
        let text: string;
        try {
          text = await readFile(path, "utf8");
        } catch (err) {
          if (cached) return { ...options.base, token: cached.token }; // keep the last good token
          throw new ConfigError(`cannot read token file ${path}: ${(err as Error).message}`, { cause: err });
        }
        const token = text.trim();
        if (!token) throw new ConfigError(`token file ${path} is empty`);
        cached = { token, at: now() };
      }
      return { ...options.base, token: cached.token };
    },
    invalidate() {
      cached = undefined;
    },
  };
}
