/**
 * The console's HTTP plumbing on node:http (Deno, Bun and Node alike): the security headers every
 * answer carries, the embedded static files, form bodies, and the listening server.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseBindAddress, startServer } from "../observe/mod.ts";
import { CONSOLE_JS } from "./client-js.ts";
import { CONSOLE_CSS, FAVICON_SVG } from "./styles.ts";

/**
 * The Content-Security-Policy of every answer: the console's own script and stylesheet only, no
 * inline script or style, no other origin for anything, no framing, forms posting only here.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Headers of every answer. */
export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  // same-origin: the console's own form posts keep their Origin header (checked against CSRF; with
  // no-referrer, browsers send "Origin: null"), and no other site learns the console's URLs.
  "Referrer-Policy": "same-origin",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

interface Asset {
  body: string;
  type: string;
  etag: string;
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/** Everything the console serves besides its pages: compiled into the binary, nothing fetched. */
export const ASSETS: Record<string, Asset> = {
  "/static/console.js": asset(CONSOLE_JS, "text/javascript; charset=utf-8"),
  "/static/console.css": asset(CONSOLE_CSS, "text/css; charset=utf-8"),
  "/static/favicon.svg": asset(FAVICON_SVG, "image/svg+xml"),
};

/** Sends a complete answer with the security headers. */
export function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = "text/html; charset=utf-8",
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Cache-Control": "no-store",
    ...extra,
    "Content-Type": type,
    "Content-Length": String(new TextEncoder().encode(body).length),
  });
  res.end(body);
}

/** A 303 redirect to a path of the console (never another origin). */
export function redirect(res: ServerResponse, path: string): void {
  const safe = path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/\\") ? path : "/";
  res.writeHead(303, {
    ...SECURITY_HEADERS,
    "Cache-Control": "no-store",
    Location: safe,
    "Content-Length": "0",
  });
  res.end();
}

/** Serves an embedded file (with an ETag, so browsers revalidate cheaply). */
export function serveAsset(req: IncomingMessage, res: ServerResponse, a: Asset): void {
  if (req.headers["if-none-match"] === a.etag) {
    res.writeHead(304, { ...SECURITY_HEADERS, ETag: a.etag, "Cache-Control": "no-cache" });
    res.end();
    return;
  }
  send(res, 200, a.body, a.type, { ETag: a.etag, "Cache-Control": "no-cache" });
}

/** The largest form the console reads (a DataFlow is far smaller). */
export const MAX_FORM_BYTES = 1 << 20;

/** A form body that cannot be read: too large, or not a form. */
export class BadForm extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** Reads an `application/x-www-form-urlencoded` body. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new BadForm(
      `expected a form (application/x-www-form-urlencoded), got ${type || "no body type"}`,
      415,
    );
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Uint8Array).length;
    if (size > MAX_FORM_BYTES) throw new BadForm(`the form is larger than ${MAX_FORM_BYTES} bytes`, 413);
    chunks.push(chunk as Uint8Array);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new URLSearchParams(new TextDecoder().decode(all));
}

/** A listening console. */
export interface Listening {
  readonly host: string;
  readonly port: number;
  /** The URL to open, e.g. http://127.0.0.1:8080/. */
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on `[host]:port` and hands every request to `handle` (a failure becomes a 500). */
export async function listen(
  address: string,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  onError: (req: IncomingMessage, res: ServerResponse, err: unknown) => void,
): Promise<Listening> {
  const { host, port } = parseBindAddress(address);
  const started = await startServer(host, port, handle, onError);
  const shown = !host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : started.host;
  const urlHost = shown.includes(":") ? `[${shown}]` : shown;
  return { ...started, url: `http://${urlHost}:${started.port}/` };
}
