/**
 * A fault-injecting {@link Transport}: wraps a real one (an HttpTransport to the test control
 * plane, or a fake) and, on command, throttles (429 with Retry-After), fails a share of requests
 * (500), cuts or stalls watch streams, or partitions the client from the server, while counting
 * requests by verb and path. Used by the runtime's integration tests and the fault suite.
 *
 * ```ts
 * const faults = new FaultTransport(new HttpTransport(settings));
 * const client = new KubeClient(faults);
 * faults.throttle({ count: 3, retryAfterSeconds: 1 });   // the next 3 requests get 429
 * faults.failShare(0.2);                                 // 20 % of requests answer 500
 * faults.cutWatches();                                   // open watch streams break off
 * faults.stallWatches(true);                             // watch streams go silent (no FIN)
 * faults.partition("blackhole");                         // requests hang until aborted
 * faults.count({ verb: "WATCH" });                       // requests seen so far
 * ```
 */
import { ConnectionError } from "../../lib/kube/errors.ts";
import type { KubeRequest, Transport } from "../../lib/kube/transport.ts";

/** The verb of a request as the API server names it: WATCH and LIST are GETs of collections. */
export type Verb = "GET" | "LIST" | "WATCH" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One request the transport saw. */
export interface SeenRequest {
  verb: Verb;
  method: KubeRequest["method"];
  path: string;
  query: string;
  /** What the fault layer did: passed it on, or answered it itself. */
  outcome: "passed" | "throttled" | "failed" | "refused" | "blackholed";
  at: number;
}

/** Which requests a fault applies to. */
export interface RequestFilter {
  /** One verb (shorthand for `verbs: [verb]`). */
  verb?: Verb;
  verbs?: Verb[];
  /** A path prefix or a pattern. */
  path?: string | RegExp;
}

/** Options of {@link FaultTransport.throttle}. */
export interface ThrottleOptions extends RequestFilter {
  /** How many matching requests get 429 (default: every one until {@link FaultTransport.heal}). */
  count?: number;
  /** The Retry-After header in seconds (default 1); `null` sends none. */
  retryAfterSeconds?: number | null;
  /**
   * A burst: throttle only within this many milliseconds from now (default: until `count` were
   * throttled). Without it, a client sending fewer than `count` requests per pulse never gets through.
   */
  forMs?: number;
}

/** Options of {@link FaultTransport.failShare}. */
export interface FailOptions extends RequestFilter {
  /** HTTP status (default 500). */
  status?: number;
  /** A Retry-After header, if any (client-go retries 5xx only with one). */
  retryAfterSeconds?: number;
}

const STATUS_REASON: Record<number, string> = {
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function verbOf(req: KubeRequest): Verb {
  if (req.method !== "GET") return req.method;
  const w = req.query?.get("watch");
  if (w === "true" || w === "1") return "WATCH";
  // A collection path ends in the plural: /api/v1/pods, /api/v1/namespaces/x/pods, /apis/g/v/namespaces/x/foos.
  const seg = req.path.split("/").filter(Boolean);
  const rest = seg[0] === "api" ? seg.slice(2) : seg.slice(3);
  const isCollection = rest.length === 1 || (rest[0] === "namespaces" && rest.length === 3);
  return isCollection ? "LIST" : "GET";
}

function matches(f: RequestFilter, verb: Verb, path: string): boolean {
  if (f.verb && f.verb !== verb) return false;
  if (f.verbs && !f.verbs.includes(verb)) return false;
  if (f.path === undefined) return true;
  return typeof f.path === "string" ? path.startsWith(f.path) : f.path.test(path);
}

function statusBody(code: number, message: string): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason: STATUS_REASON[code] ?? "",
    message,
  });
}

interface Stream {
  verb: Verb;
  path: string;
  cut: (reason: Error) => void;
}

/** A Transport wrapper that injects faults and counts requests. */
export class FaultTransport implements Transport {
  readonly server: string;
  /** Every request seen, in order. */
  readonly seen: SeenRequest[] = [];
  #throttle?: ThrottleOptions & { left: number; until: number };
  #fail?: FailOptions & { share: number };
  #partition: "none" | "refuse" | "blackhole" = "none";
  #stalled = false;
  #resumeStalled: (() => void)[] = [];
  #heldChunks = 0;
  #streams = new Set<Stream>();
  #random: () => number;

  /** @param inner the real transport @param random the source of randomness for shares (tests pin it) */
  constructor(readonly inner: Transport, options: { random?: () => number } = {}) {
    this.server = inner.server;
    this.#random = options.random ?? Math.random;
  }

  /** Answers matching requests with 429 (and Retry-After) until `count` were throttled or {@link heal}. */
  throttle(options: ThrottleOptions = {}): void {
    const until = options.forMs === undefined ? Infinity : Date.now() + options.forMs;
    this.#throttle = { retryAfterSeconds: 1, ...options, left: options.count ?? Infinity, until };
  }

  /** Answers a `share` (0..1) of matching requests with a 5xx Status (500 by default). */
  failShare(share: number, options: FailOptions = {}): void {
    this.#fail = { status: 500, ...options, share };
  }

  /**
   * Cuts the client off: `refuse` fails every request at once as an unreachable server does;
   * `blackhole` lets requests hang until their signal aborts (a silent network). Open watch
   * streams are cut (`refuse`) or stalled (`blackhole`).
   */
  partition(mode: "refuse" | "blackhole"): void {
    this.#partition = mode;
    if (mode === "refuse") this.cutWatches(new TypeError("connection reset by the fault transport"));
    else this.stallWatches(true);
  }

  /** Breaks off every open watch stream mid-body, like a dropped TCP connection. */
  cutWatches(reason: Error = new TypeError("watch stream cut by the fault transport")): number {
    const n = this.#streams.size;
    for (const s of [...this.#streams]) s.cut(reason);
    return n;
  }

  /** Holds watch streams silent (no bytes, no end) while `on`; bytes flow again when turned off. */
  stallWatches(on: boolean): void {
    this.#stalled = on;
    if (!on) { for (const r of this.#resumeStalled.splice(0)) r(); }
  }

  /** Chunks of watch bodies that arrived while stalled and are held back until the stall ends. */
  get heldChunks(): number {
    return this.#heldChunks;
  }

  /** Open (not finished) watch streams. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Removes every fault (throttle, failures, partition, stall); counts are kept. */
  heal(): void {
    this.#throttle = undefined;
    this.#fail = undefined;
    this.#partition = "none";
    this.stallWatches(false);
  }

  /** Requests seen matching the filter (and, optionally, an outcome). */
  count(filter: RequestFilter & { outcome?: SeenRequest["outcome"] } = {}): number {
    return this.seen.filter((r) =>
      matches(filter, r.verb, r.path) && (!filter.outcome || r.outcome === filter.outcome)
    )
      .length;
  }

  /** Counts by "VERB path", for a quick look in a failing test. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.seen) out[`${r.verb} ${r.path}`] = (out[`${r.verb} ${r.path}`] ?? 0) + 1;
    return out;
  }

  async request(req: KubeRequest): Promise<Response> {
    const verb = verbOf(req);
    const rec: SeenRequest = {
      verb,
      method: req.method,
      path: req.path,
      query: req.query?.toString() ?? "",
      outcome: "passed",
      at: Date.now(),
    };
    this.seen.push(rec);
    if (this.#partition === "refuse") {
      rec.outcome = "refused";
      throw new ConnectionError(`${req.method} ${req.path}: connection refused (fault transport)`, {
        code: 0,
        request: `${req.method} ${req.path}`,
      });
    }
    if (this.#partition === "blackhole") {
      rec.outcome = "blackholed";
      return await new Promise<Response>((_, reject) => {
        if (req.signal?.aborted) return reject(req.signal.reason);
        req.signal?.addEventListener("abort", () => reject(req.signal!.reason), { once: true });
      });
    }
    const t = this.#throttle;
    if (t && t.left > 0 && Date.now() < t.until && matches(t, verb, req.path)) {
      t.left--;
      rec.outcome = "throttled";
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (t.retryAfterSeconds !== null && t.retryAfterSeconds !== undefined) {
        headers["Retry-After"] = String(t.retryAfterSeconds);
      }
      return new Response(statusBody(429, "throttled by the fault transport"), { status: 429, headers });
    }
    const f = this.#fail;
    if (f && matches(f, verb, req.path) && this.#random() < f.share) {
      rec.outcome = "failed";
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (f.retryAfterSeconds !== undefined) headers["Retry-After"] = String(f.retryAfterSeconds);
      return new Response(statusBody(f.status!, "injected failure (fault transport)"), {
        status: f.status,
        headers,
      });
    }
    const res = await this.inner.request(req);
    if (verb !== "WATCH" || !res.body) return res;
    return new Response(this.#wrap(res.body, verb, req.path), { status: res.status, headers: res.headers });
  }

  close(): void {
    this.cutWatches(new TypeError("fault transport closed"));
    this.inner.close();
  }

  /** A body that can be cut or stalled from outside. */
  #wrap(body: ReadableStream<Uint8Array>, verb: Verb, path: string): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let stream!: Stream;
    let cutReason: Error | undefined;
    let wake: (() => void) | undefined;
    const done = () => this.#streams.delete(stream);
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream = {
          verb,
          path,
          cut: (reason) => {
            cutReason = reason;
            done();
            try {
              controller.error(reason);
            } catch { /* already closed */ }
            reader.cancel(reason).catch(() => {});
            wake?.();
          },
        };
        this.#streams.add(stream);
      },
      pull: async (controller) => {
        while (this.#stalled && !cutReason) {
          await new Promise<void>((r) => {
            wake = r;
            this.#resumeStalled.push(r);
          });
        }
        if (cutReason) return;
        try {
          const { value, done: end } = await reader.read();
          if (cutReason) return;
          if (end) {
            done();
            controller.close();
            return;
          }
          // Bytes that arrive while stalled are held back until the stall ends.
          this.#heldChunks++;
          try {
            while (this.#stalled && !cutReason) {
              await new Promise<void>((r) => {
                wake = r;
                this.#resumeStalled.push(r);
              });
            }
          } finally {
            this.#heldChunks--;
          }
          if (!cutReason) controller.enqueue(value);
        } catch (err) {
          done();
          if (!cutReason) controller.error(err);
        }
      },
      cancel: (reason) => {
        done();
        cutReason ??= new Error("cancelled by the reader");
        wake?.();
        return reader.cancel(reason);
      },
    });
  }
}
