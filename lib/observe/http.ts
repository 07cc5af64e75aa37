/**
 * The health and metrics HTTP endpoints, with controller-runtime's behaviour: `/healthz` and
 * `/readyz` run named checks (`?verbose` lists them, `?exclude=name` skips one, `/readyz/<name>`
 * runs one), and `/metrics` serves a {@link Registry} in the Prometheus text format. Served by
 * Bun's own server on Bun and by node:http elsewhere (Deno, Node); {@link startServer} is the
 * node:http server the web console uses on every runtime.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { logger } from "./log.ts";
import { defaultRegistry, type Registry } from "./metrics.ts";

/** A check passes unless it throws, returns false, or returns a string (the failure reason). */
export type HealthCheck = () => boolean | void | string | Promise<boolean | void | string>;

/** The outcome of one check. */
export interface CheckResult {
  /** The check's name. */
  name: string;
  /** Whether it passed. */
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

  /**
   * An empty set of checks.
   * @param timeoutMs a check that takes longer fails (default 5 s)
   */
  constructor(readonly timeoutMs: number = 5_000) {}

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

/** What an endpoint answers: a status and a text body. */
interface Answer {
  status: number;
  body: string;
  /** Content-Type (default text/plain; charset=utf-8). */
  type?: string;
}

const TEXT = "text/plain; charset=utf-8";

/** The headers of every answer. */
function headers(a: Answer): Record<string, string> {
  return { "Content-Type": a.type ?? TEXT, "X-Content-Type-Options": "nosniff" };
}

function write(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, { ...headers(a), "Content-Length": new TextEncoder().encode(a.body).length });
  res.end(a.body);
}

async function checkAnswer(
  checks: HealthChecks,
  kind: "healthz" | "readyz",
  sub: string,
  url: URL,
): Promise<Answer> {
  if (sub) {
    const one = await checks.runOne(sub);
    if (!one) return { status: 404, body: "404 page not found\n" };
    return one.ok
      ? { status: 200, body: "ok" }
      : { status: 500, body: `internal server error: ${sub} check failed\n` };
  }
  const exclude = new Set(url.searchParams.getAll("exclude"));
  const results = await checks.run(exclude);
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
  if (!failed.length && !verbose) return { status: 200, body: "ok" };
  // The reason is shown (Kubernetes withholds it): these checks are the operator's own and say what
  // is missing (a cache not synced yet, a Lease it may not take), nothing secret.
  const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason}`));
  // As controller-runtime: only a registered check is excluded; a name matching none is reported.
  const registered = new Set(checks.names);
  const unknown = [...exclude].filter((name) => !registered.has(name));
  for (const ex of exclude) if (registered.has(ex)) lines.push(`[+]${ex} excluded: ok`);
  if (unknown.length) {
    lines.push(
      `warn: some health checks cannot be excluded: no matches for ${
        unknown.map((n) => `"${n}"`).join(", ")
      }`,
    );
  }
  lines.push(failed.length ? `${kind} check failed` : `${kind} check passed`);
  return { status: failed.length ? 500 : 200, body: lines.join("\n") + "\n" };
}

/** Starts an HTTP server for probes and/or metrics. */
export async function startObserveServer(options: ObserveServerOptions): Promise<ObserveServer> {
  const { host, port } = parseBindAddress(options.address);
  const registry = options.registry === undefined ? defaultRegistry : options.registry;
  const answer = async (method: string, url: URL): Promise<Answer> => {
    if (method !== "GET" && method !== "HEAD") return { status: 405, body: "method not allowed\n" };
    const [, first = "", sub = ""] = url.pathname.split("/");
    if (first === "metrics" && !sub && registry) {
      return { status: 200, body: registry.render(), type: "text/plain; version=0.0.4; charset=utf-8" };
    }
    if (first === "healthz" && options.health) return await checkAnswer(options.health, "healthz", sub, url);
    if (first === "readyz" && options.ready) return await checkAnswer(options.ready, "readyz", sub, url);
    return { status: 404, body: "404 page not found\n" };
  };
  const bun = (globalThis as { Bun?: BunServe }).Bun;
  const addr = bun ? startBunServer(bun, host, port, answer) : await startServer(
    host,
    port,
    async (req, res) =>
      write(res, await answer(req.method ?? "GET", new URL(req.url ?? "/", "http://localhost"))),
    (_req, res) => write(res, { status: 500, body: "internal server error\n" }),
  );
  log.info("serving {what} on {host}:{port}", {
    what: [options.health && "/healthz", options.ready && "/readyz", registry && "/metrics"].filter(Boolean)
      .join(" "),
    host: addr.host,
    port: addr.port,
  });
  return addr;
}

/** The part of Bun's API the endpoints use. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    development: boolean;
    fetch: (req: Request) => Promise<Response>;
  }): { hostname?: string; port?: number; stop(closeActiveConnections: boolean): Promise<void> | void };
}

/**
 * The endpoints on Bun's native server: node:http on Bun is a JavaScript layer over it whose
 * modules alone take about 5 MiB of resident memory, more than an idle operator's whole cache.
 * All interfaces means both address families, as node:http listens: `::` (dual-stack), or
 * 0.0.0.0 where the host has no IPv6.
 */
function startBunServer(
  bun: BunServe,
  host: string,
  port: number,
  answer: (method: string, url: URL) => Promise<Answer>,
): StartedServer {
  const fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    try {
      const a = await answer(req.method, url);
      return new Response(a.body, { status: a.status, headers: headers(a) });
    } catch (err) {
      log.error("{method} {path} failed: {error}", {
        method: req.method,
        path: url.pathname,
        error: (err as Error).message,
      });
      return new Response("internal server error\n", {
        status: 500,
        headers: headers({ status: 500, body: "" }),
      });
    }
  };
  const listen = (hostname: string) => bun.serve({ hostname, port, development: false, fetch });
  let server: ReturnType<typeof listen>;
  try {
    server = listen(host || "::");
  } catch (err) {
    if (host || !/EAFNOSUPPORT|EADDRNOTAVAIL/.test(String((err as { code?: string }).code))) throw err;
    server = listen("0.0.0.0");
  }
  return {
    host: server.hostname ?? host,
    port: server.port ?? port,
    close: async () => await server.stop(true),
  };
}

/** A listening HTTP server: where it listens, and how to stop it (open connections closed too). */
export interface StartedServer {
  /** The address it listens on. */
  host: string;
  /** The port it listens on (the one picked, when 0 was asked for). */
  port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Starts a node:http server on `host:port` (all interfaces when `host` is empty; port 0 picks a
 * free one) that hands every request to `handle`; a request whose handler fails is logged and
 * answered by `onError` (or ended, when its headers were sent). Rejects when it cannot listen.
 * node:http is loaded on first use, so a process that never calls this (the operator on Bun)
 * never loads it.
 */
export async function startServer(
  host: string,
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  onError: (req: IncomingMessage, res: ServerResponse, err: unknown) => void,
): Promise<StartedServer> {
  const { createServer } = await import("node:http");
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
