/**
 * The health and metrics HTTP endpoints, with controller-runtime's behaviour: `/healthz` and
 * `/readyz` run named checks (`?verbose` lists them, `?exclude=name` skips one, `/readyz/<name>`
 * runs one), and `/metrics` serves a {@link Registry} in the Prometheus text format. Built on
 * node:http, which Deno, Bun and Node all provide.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { logger } from "./log.ts";
import { defaultRegistry, type Registry } from "./metrics.ts";

/** A check passes unless it throws, returns false, or returns a string (the failure reason). */
export type HealthCheck = () => boolean | void | string | Promise<boolean | void | string>;

/** The outcome of one check. */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** Why it failed (for logs; the HTTP answer withholds it, as controller-runtime does). */
  reason?: string;
}

/** How a failing check is logged: see {@link HealthChecks.record}. */
export type CheckLogLevel = "debug" | "warning";

/** A named set of checks, e.g. the readiness checks. */
export class HealthChecks {
  #checks = new Map<string, HealthCheck>();
  /** Per check: whether it has ever passed, and whether its last run passed. */
  #history = new Map<string, { everPassed: boolean; lastOk: boolean }>();

  /** @param timeoutMs a check that takes longer fails (default 5 s) */
  constructor(readonly timeoutMs = 5_000) {}

  /** Adds (or replaces) a check; names must be URL-path safe (`[A-Za-z0-9._-]`). */
  add(name: string, check: HealthCheck): this {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) {
      throw new TypeError(`health check name "${name}" must match [A-Za-z0-9._-]+`);
    }
    this.#checks.set(name, check);
    return this;
  }

  /** Removes a check. */
  remove(name: string): void {
    this.#checks.delete(name);
    this.#history.delete(name);
  }

  /**
   * Notes an outcome served on the endpoint and says how loud to be about it: a check that has
   * never passed is still starting (informers that have not synced yet on a normal start), so
   * its failures are `debug`; a check that passed before and now fails is a `warning`, once,
   * when it turns; `recovered` when a check passes again after that; undefined when there is
   * nothing to say.
   */
  record(result: CheckResult): CheckLogLevel | "recovered" | undefined {
    const h = this.#history.get(result.name) ?? { everPassed: false, lastOk: false };
    const wasOk = h.lastOk;
    h.lastOk = result.ok;
    if (result.ok) {
      const recovered = h.everPassed && !wasOk;
      h.everPassed = true;
      this.#history.set(result.name, h);
      return recovered ? "recovered" : undefined;
    }
    this.#history.set(result.name, h);
    return h.everPassed && wasOk ? "warning" : "debug";
  }

  /** The check names, in registration order. */
  get names(): string[] {
    return [...this.#checks.keys()];
  }

  /** Runs one check. */
  async runOne(name: string): Promise<CheckResult | undefined> {
    const check = this.#checks.get(name);
    if (!check) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`timed out after ${this.timeoutMs} ms`), this.timeoutMs);
      });
      const r = await Promise.race([Promise.resolve().then(check), timeout]);
      if (r === false) return { name, ok: false, reason: "check returned false" };
      if (typeof r === "string") return { name, ok: false, reason: r };
      return { name, ok: true };
    } catch (err) {
      return { name, ok: false, reason: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs every check but the excluded ones; with none registered, an implicit `ping` passes. */
  async run(exclude: Iterable<string> = []): Promise<CheckResult[]> {
    const skip = new Set(exclude);
    const names = this.names.filter((n) => !skip.has(n));
    if (this.#checks.size === 0) return [{ name: "ping", ok: true }];
    return await Promise.all(names.map(async (n) => (await this.runOne(n))!));
  }
}

/** Where and what an {@link ObserveServer} serves. */
export interface ObserveServerOptions {
  /** `host:port`, `:port` (all interfaces) or `port`; port 0 picks a free one. */
  address: string;
  /** Liveness checks served on /healthz (omit to not serve /healthz). */
  health?: HealthChecks;
  /** Readiness checks served on /readyz (omit to not serve /readyz). */
  ready?: HealthChecks;
  /** The registry served on /metrics (omit, or pass `false`, to not serve /metrics). */
  registry?: Registry | false;
}

/** A running HTTP server for probes and/or metrics. */
export interface ObserveServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** The bound host. */
  readonly host: string;
  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void>;
}

/** Whether a bind address means "disabled" (`""` or `"0"`, as in controller-runtime). */
export function isDisabledAddress(address: string | undefined): boolean {
  return address === undefined || address === "" || address === "0";
}

/** Splits `host:port`, `:port`, `[v6]:port` or `port`; an empty host means all interfaces. */
export function parseBindAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  if (!m) throw new TypeError(`bind address "${address}" is not host:port, :port or port`);
  const port = Number(m[3]);
  if (port > 65535) throw new RangeError(`bind address "${address}": port out of range`);
  return { host: m[1] ?? m[2] ?? "", port };
}

const log = logger("observe", "http");

function write(res: ServerResponse, code: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(code, {
    "Content-Type": type,
    "Content-Length": new TextEncoder().encode(body).length,
    "X-Content-Type-Options": "nosniff",
  });
  res.end(body);
}

async function serveChecks(
  checks: HealthChecks,
  kind: "healthz" | "readyz",
  sub: string,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  if (sub) {
    const one = await checks.runOne(sub);
    if (!one) return write(res, 404, "404 page not found\n");
    return one.ok ? write(res, 200, "ok") : write(res, 500, `internal server error: ${sub} check failed\n`);
  }
  const results = await checks.run(url.searchParams.getAll("exclude"));
  const failed = results.filter((r) => !r.ok);
  for (const r of results) {
    const level = checks.record(r);
    if (level === "recovered") log.info("{kind} check {check} passes again", { kind, check: r.name });
    else if (level === "warning") {
      log.warning("{kind} check {check} failed: {reason}", { kind, check: r.name, reason: r.reason });
    } else if (level === "debug") {
      log.debug("{kind} check {check} failed: {reason}", { kind, check: r.name, reason: r.reason });
    }
  }
  const verbose = url.searchParams.has("verbose");
  if (!failed.length && !verbose) return write(res, 200, "ok");
  // The reason is shown (Kubernetes withholds it): these checks are the operator's own and say what
  // is missing (a cache not synced yet, a Lease it may not take), nothing secret.
  const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason}`));
  for (const ex of url.searchParams.getAll("exclude")) lines.push(`[+]${ex} excluded: ok`);
  lines.push(failed.length ? `${kind} check failed` : `${kind} check passed`);
  write(res, failed.length ? 500 : 200, lines.join("\n") + "\n");
}

/** Starts an HTTP server for probes and/or metrics. */
export async function startObserveServer(options: ObserveServerOptions): Promise<ObserveServer> {
  const { host, port } = parseBindAddress(options.address);
  const registry = options.registry === undefined ? defaultRegistry : options.registry;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") return write(res, 405, "method not allowed\n");
    const [, first = "", sub = ""] = url.pathname.split("/");
    if (first === "metrics" && !sub && registry) {
      return write(res, 200, registry.render(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (first === "healthz" && options.health) {
      return await serveChecks(options.health, "healthz", sub, url, res);
    }
    if (first === "readyz" && options.ready) return await serveChecks(options.ready, "readyz", sub, url, res);
    write(res, 404, "404 page not found\n");
  };
  const addr = await startServer(
    host,
    port,
    handle,
    (_req, res) => write(res, 500, "internal server error\n"),
  );
  log.info("serving {what} on {host}:{port}", {
    what: [options.health && "/healthz", options.ready && "/readyz", registry && "/metrics"].filter(Boolean)
      .join(" "),
    host: addr.host,
    port: addr.port,
  });
  return addr;
}

/** A listening HTTP server: where it listens, and how to stop it (open connections closed too). */
export interface StartedServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts a node:http server on `host:port` (all interfaces when `host` is empty; port 0 picks a
 * free one) that hands every request to `handle`; a request whose handler fails is logged and
 * answered by `onError` (or ended, when its headers were sent). Rejects when it cannot listen.
 */
export async function startServer(
  host: string,
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  onError: (req: IncomingMessage, res: ServerResponse, err: unknown) => void,
): Promise<StartedServer> {
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      log.error("{method} {path} failed: {error}", {
        method: req.method,
        path: (req.url ?? "").split("?")[0],
        error: (err as Error).message,
      });
      if (!res.headersSent) onError(req, res, err);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host || undefined, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
