/**
 * A scripted Transport for the client's unit tests: answers each request from a handler and
 * records it. Not an API server (no objects, no rules; that is tests/tools/fake-apiserver.ts): it
 * lets a test send exactly the bytes, statuses and failures the client must cope with (a body
 * cut mid-stream, a stall, no answer at all).
 */
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";

/** A recorded request. */
export interface Recorded extends KubeRequest {
  url: string;
}

/** Response builders shared with the fake API server. */
export { jsonResponse as json, statusResponse as status } from "../../tools/fake-apiserver.ts";

/** A transport whose answers come from `handler`. */
export class FakeTransport implements Transport {
  readonly server = "https://fake.test:6443";
  readonly requests: Recorded[] = [];
  constructor(public handler: (req: Recorded, index: number) => Response | Promise<Response>) {}
  async request(req: KubeRequest): Promise<Response> {
    const qs = req.query?.toString();
    const rec = { ...req, url: `${req.path}${qs ? `?${qs}` : ""}` };
    this.requests.push(rec);
    return await this.handler(rec, this.requests.length - 1);
  }
  close(): void {}
}

/**
 * A 200 response whose body delivers `firstPart` and then fails the way fetch reports a
 * connection reset mid-body: a TypeError whose cause names the reset.
 */
export function brokenBodyResponse(firstPart: string): Response {
  const bytes = new TextEncoder().encode(firstPart);
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes);
        return;
      }
      controller.error(
        new TypeError("error reading a body from connection", {
          cause: Object.assign(new Error("connection reset by peer (os error 104)"), { code: "ECONNRESET" }),
        }),
      );
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

/**
 * A response that sends headers at once and then nothing until `signal` aborts, when its body
 * fails with the abort reason (as fetch does): a server that stalls mid-body.
 */
export function stalledBodyResponse(signal: AbortSignal | undefined): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      signal?.addEventListener("abort", () => controller.error(signal.reason), { once: true });
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

/** A request that never gets an answer: rejects with the abort reason once `signal` aborts. */
export function noAnswer(signal: AbortSignal | undefined): Promise<Response> {
  return new Promise((_resolve, reject) => {
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** What a promise came to, readable while a fake clock is advanced. */
export interface Settled<T> {
  done: boolean;
  value?: T;
  error?: unknown;
}

/** Tracks `p` into a {@link Settled} box, so a test can check whether it settled yet. */
export function settle<T>(p: Promise<T>): Settled<T> {
  const box: Settled<T> = { done: false };
  p.then(
    (value) => Object.assign(box, { done: true, value }),
    (error) => Object.assign(box, { done: true, error }),
  );
  return box;
}
