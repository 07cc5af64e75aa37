/**
 * Test doubles for the event recorder: a manual clock and an in-memory Events API that checks
 * every body against the server's rules, simulates the one-hour TTL, and can inject faults.
 */
import { KubeClient } from "../../../lib/kube/client.ts";
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";
import type { Clock } from "../../../lib/events/types.ts";
import { type CoreEventBody, validateEventBody } from "../../../lib/events/validate.ts";
import { Registry } from "../../../lib/observe/metrics.ts";

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets every pending promise chain run (one real macrotask turn). */
export async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 0));
}

/** A clock that only moves when the test says so. */
export class FakeClock implements Clock {
  #now: number;
  /** Armed timers by id, in the order they were set. */
  #timers = new Map<number, Timer>();
  #seq = 0;

  constructor(start = Date.UTC(2026, 0, 2, 3, 4, 5, 0)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const t = { id: ++this.#seq, at: this.#now + Math.max(0, ms), fn };
    this.#timers.set(t.id, t);
    return t.id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Number of armed timers. */
  get timerCount(): number {
    return this.#timers.size;
  }
  /** Moves time forward, firing due timers in order and letting their work finish. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      let at = Infinity;
      for (const t of this.#timers.values()) if (t.at <= target && t.at < at) at = t.at;
      if (at === Infinity) break;
      // Every timer due at this instant fires (in the order they were set; one cleared by an
      // earlier one does not), then the work they started runs.
      this.#now = Math.max(this.#now, at);
      for (const t of [...this.#timers.values()].filter((t) => t.at === at)) {
        if (!this.#timers.delete(t.id)) continue;
        t.fn();
      }
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** One request the fake server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  body?: Record<string, unknown>;
  at: number;
  status: number;
  /** When the answer was given (fake time); undefined while unanswered. */
  answeredAt?: number;
}

/** A Status response like the API server's. */
export function statusResponse(
  code: number,
  reason: string,
  message: string,
  extra: {
    causes?: { reason?: string; message?: string; field?: string }[];
    headers?: Record<string, string>;
  } = {},
): Response {
  return new Response(
    JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      code,
      reason,
      message,
      details: extra.causes ? { causes: extra.causes } : undefined,
    }),
    { status: code, headers: { "content-type": "application/json", ...extra.headers } },
  );
}

/** A stored Event plus the time of its last write (for the TTL). */
export interface StoredEvent {
  body: CoreEventBody;
  writtenAt: number;
}

/**
 * An in-memory core/v1 Events API. `fault` can answer any request first (return undefined to
 * let the fake handle it); `hang` makes every request wait until aborted; `latencyMs` answers
 * each request after that long on the fake clock (the fault is then asked at answer time).
 * `inFlight` and `maxInFlight` count unanswered requests.
 */
export class FakeEventServer implements Transport {
  readonly server = "https://fake.events";
  readonly events = new Map<string, StoredEvent>();
  readonly requests: SeenRequest[] = [];
  /** Bodies the server's rules would have refused (should stay empty). */
  readonly invalid: string[][] = [];
  fault?: (req: KubeRequest, body?: Record<string, unknown>) => Response | undefined;
  hang = false;
  ttlMs?: number;
  latencyMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** The stored Events, oldest first. */
  list(): CoreEventBody[] {
    this.#expire();
    return [...this.events.values()].map((e) => e.body);
  }

  /** Requests by method. */
  count(method?: string): number {
    return this.requests.filter((r) => !method || r.method === method).length;
  }

  close(): void {}

  #expire(): void {
    if (this.ttlMs === undefined) return;
    for (const [k, e] of this.events) if (e.writtenAt + this.ttlMs <= this.clock.now()) this.events.delete(k);
  }

  request(req: KubeRequest): Promise<Response> {
    const body = req.body ? JSON.parse(req.body) as Record<string, unknown> : undefined;
    const seen: SeenRequest = { method: req.method, path: req.path, body, at: this.clock.now(), status: 0 };
    this.requests.push(seen);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.hang) {
      return new Promise((_, reject) => {
        req.signal?.addEventListener("abort", () => {
          this.inFlight--;
          reject(req.signal!.reason);
        }, { once: true });
      });
    }
    const answer = () => {
      this.inFlight--;
      const res = this.fault?.(req, body) ?? this.#handle(req, body);
      seen.status = res.status;
      seen.answeredAt = this.clock.now();
      return res;
    };
    if (this.latencyMs > 0) {
      return new Promise((resolve) => this.clock.setTimeout(() => resolve(answer()), this.latencyMs));
    }
    return Promise.resolve(answer());
  }

  #handle(req: KubeRequest, body?: Record<string, unknown>): Response {
    this.#expire();
    const m = req.path.match(/^\/api\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/);
    if (!m) return statusResponse(404, "NotFound", `no route ${req.path}`);
    const ns = decodeURIComponent(m[1]);
    if (req.method === "POST" && !m[2]) {
      const ev = body as unknown as CoreEventBody;
      const problems = validateEventBody(ev);
      if (ev.metadata?.namespace !== ns) problems.push("A1 namespace mismatch");
      if (problems.length) {
        this.invalid.push(problems);
        return statusResponse(422, "Invalid", problems.join("; "), {
          causes: problems.map((p) => ({ reason: "FieldValueInvalid", message: p })),
        });
      }
      const key = `${ns}/${ev.metadata.name}`;
      if (this.events.has(key)) {
        return statusResponse(409, "AlreadyExists", `events "${ev.metadata.name}" already exists`);
      }
      this.events.set(key, { body: ev, writtenAt: this.clock.now() });
      return new Response(JSON.stringify(ev), { status: 201 });
    }
    if (req.method === "PATCH" && m[2]) {
      const key = `${ns}/${decodeURIComponent(m[2])}`;
      const stored = this.events.get(key);
      if (!stored) return statusResponse(404, "NotFound", `events "${m[2]}" not found`);
      stored.body = { ...stored.body, ...body } as CoreEventBody;
      stored.writtenAt = this.clock.now();
      return new Response(JSON.stringify(stored.body), { status: 200 });
    }
    return statusResponse(405, "MethodNotAllowed", `${req.method} ${req.path}`);
  }
}

/** A clock, a fake server, a client over it and a private registry. */
export function fakeSetup(): {
  clock: FakeClock;
  server: FakeEventServer;
  client: KubeClient;
  registry: Registry;
} {
  const clock = new FakeClock();
  const server = new FakeEventServer(clock);
  const registry = new Registry();
  const client = new KubeClient(server, { registry });
  return { clock, server, client, registry };
}

/** A namespaced test object. */
export function pod(name: string, namespace = "ns1", uid = `uid-${name}`): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace, uid, resourceVersion: "1" } };
}
