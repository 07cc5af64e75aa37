/**
 * Sessions of a console with writes enabled: a random id in an HttpOnly, SameSite=Strict cookie,
 * a per-session CSRF token every form carries, and (token mode) the bearer token the user gave,
 * kept in this process's memory only: never in a cookie, a page or a log line. A read-only console
 * sets no cookie at all.
 */
import { Buffer } from "node:buffer";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** The session cookie's name. */
export const SESSION_COOKIE = "dataflow_console_session";

/** One browser's session. */
export interface Session {
  id: string;
  csrf: string;
  lastSeen: number;
  /** Token mode, signed in: who the API server says the token is. */
  user?: string;
  /** Token mode, signed in: the user's bearer token (sent with that user's writes only). */
  token?: string;
}

/** The cookies of a request. */
export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** Whether the request reached the console over HTTPS (directly, or through a proxy that says so). */
export function isHttps(req: IncomingMessage): boolean {
  const proto = String(req.headers["x-forwarded-proto"] ?? "").split(",")[0].trim().toLowerCase();
  return proto === "https" || Boolean((req.socket as { encrypted?: boolean }).encrypted);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The sessions of one console process (idle ones expire; the oldest go first when full). */
export class Sessions {
  #byId = new Map<string, Session>();
  #idleMs: number;
  #max: number;
  #now: () => number;

  constructor(options: { idleMs?: number; max?: number; now?: () => number } = {}) {
    this.#idleMs = options.idleMs ?? 8 * 3600_000;
    this.#max = options.max ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The request's session, if its cookie names a live one. */
  find(req: IncomingMessage): Session | undefined {
    const id = cookies(req)[SESSION_COOKIE];
    const s = id ? this.#byId.get(id) : undefined;
    if (!s) return undefined;
    if (this.#now() - s.lastSeen > this.#idleMs) {
      this.#byId.delete(s.id);
      return undefined;
    }
    s.lastSeen = this.#now();
    // Re-inserted: the map's order is the eviction order.
    this.#byId.delete(s.id);
    this.#byId.set(s.id, s);
    return s;
  }

  /** The request's session, or a new one whose cookie is set on the response. */
  ensure(req: IncomingMessage, res: ServerResponse): Session {
    const found = this.find(req);
    if (found) return found;
    while (this.#byId.size >= this.#max) this.#byId.delete(this.#byId.keys().next().value!);
    const s: Session = {
      id: randomBytes(32).toString("base64url"),
      csrf: randomBytes(32).toString("base64url"),
      lastSeen: this.#now(),
    };
    this.#byId.set(s.id, s);
    res.setHeader(
      "Set-Cookie",
      `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict${isHttps(req) ? "; Secure" : ""}`,
    );
    return s;
  }

  /** Whether a submitted CSRF token is the session's. */
  csrfOk(session: Session | undefined, submitted: string | undefined): boolean {
    return !!session && !!submitted && same(session.csrf, submitted);
  }

  /** Ends a session (sign out): its token is forgotten. */
  end(session: Session): void {
    session.token = undefined;
    session.user = undefined;
    this.#byId.delete(session.id);
  }

  /** Number of live sessions. */
  get size(): number {
    return this.#byId.size;
  }
}

/**
 * Whether a state-changing request comes from the console's own pages: its Origin (when the
 * browser sends one) is this host, and Sec-Fetch-Site (when sent) is same-origin.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (!host) return false;
  return origin === `${isHttps(req) ? "https" : "http"}://${host}`;
}
