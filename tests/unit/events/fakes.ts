/**
 * Test doubles for the event recorder: the in-memory API server of tests/tools (the server's
 * Event rules, the one-hour TTL) on the fake clock (lib/time), seen through what the events tests
 * inspect: every request with its fake-time stamps, fault injection, latency and in-flight counts.
 */
import { KubeClient } from "../../../lib/kube/client.ts";
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";
import type { Clock } from "../../../lib/time/clock.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import type { CoreEventBody } from "../../../lib/events/validate.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeApiServer, statusResponse as apiStatus } from "../../tools/fake-apiserver.ts";

/** Where the server keeps core/v1 Events. */
const EVENTS = "v1/events";

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
  return apiStatus(code, reason, message, extra.headers, extra.causes ? { causes: extra.causes } : undefined);
}

/**
 * The API server as the events tests drive it. `fault` can answer any request first (return
 * undefined to let the server handle it); `hang` makes every request wait until aborted;
 * `latencyMs` answers each request after that long on the fake clock (the fault is then asked at
 * answer time). `inFlight` and `maxInFlight` count unanswered requests.
 */
export class FakeEventServer implements Transport {
  readonly server = "https://fake.events";
  readonly requests: SeenRequest[] = [];
  /** The refusals of the server's Event rules (422 Invalid it answered itself; should stay empty). */
  readonly invalid: string[] = [];
  fault?: (req: KubeRequest, body?: Record<string, unknown>) => Response | undefined;
  hang = false;
  latencyMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly clock: Clock;
  /** The API server underneath. */
  readonly api: FakeApiServer;
  readonly #answers = new Map<number, (() => void)[]>();

  constructor(clock: Clock, options: { eventTtlMs?: number } = {}) {
    this.clock = clock;
    this.api = new FakeApiServer({ clock, eventTtlMs: options.eventTtlMs });
  }

  /** The stored Events, oldest first. */
  list(): CoreEventBody[] {
    return this.api.objects(EVENTS) as unknown as CoreEventBody[];
  }

  /** Deletes every stored Event behind the recorder's back (as expiry or another client would). */
  deleteAll(): void {
    for (const e of this.api.objects(EVENTS)) {
      this.api.remove(EVENTS, e.metadata?.namespace, e.metadata!.name!);
    }
  }

  /** Requests by method. */
  count(method?: string): number {
    return this.requests.filter((r) => !method || r.method === method).length;
  }

  close(): void {
    this.api.close();
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
    const answer = async () => {
      this.inFlight--;
      const res = this.fault?.(req, body) ?? await this.#serve(req);
      seen.status = res.status;
      seen.answeredAt = this.clock.now();
      return res;
    };
    if (this.latencyMs > 0) {
      return new Promise((resolve) =>
        this.#answerAt(this.clock.now() + this.latencyMs, () => resolve(answer()))
      );
    }
    return answer();
  }

  /** The API server's answer; its own 422s are noted in {@link FakeEventServer.invalid}. */
  async #serve(req: KubeRequest): Promise<Response> {
    const res = await this.api.request(req);
    if (res.status === 422) this.invalid.push((await res.clone().json()).message);
    return res;
  }

  /**
   * Answers due at one instant share one timer (in the order they were asked), so a window of 32
   * writes costs the fake clock one step, not 32.
   */
  #answerAt(at: number, answer: () => void): void {
    let batch = this.#answers.get(at);
    if (!batch) {
      const due: (() => void)[] = batch = [];
      this.#answers.set(at, due);
      this.clock.setTimeout(() => {
        this.#answers.delete(at);
        for (const f of due) f();
      }, at - this.clock.now());
    }
    batch.push(answer);
  }
}

/** A clock, a fake server (Events expire after `eventTtlMs` when given), a client over it and a private registry. */
export function fakeSetup(options: { eventTtlMs?: number } = {}): {
  clock: FakeClock;
  server: FakeEventServer;
  client: KubeClient;
  registry: Registry;
} {
  const clock = new FakeClock();
  const server = new FakeEventServer(clock, options);
  const registry = new Registry();
  const client = new KubeClient(server, { registry });
  return { clock, server, client, registry };
}

/** A namespaced test object. */
export function pod(name: string, namespace = "ns1", uid = `uid-${name}`): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace, uid, resourceVersion: "1" } };
}
