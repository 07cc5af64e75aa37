/** A scripted Transport for unit tests: answers requests from a handler and records them. */
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";

/** A recorded request. */
export interface Recorded extends KubeRequest {
  url: string;
}

/** Builds a JSON response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Builds a Status body response. */
export function status(
  code: number,
  reason: string,
  message = reason,
  extra: Record<string, unknown> = {},
): Response {
  return json(code, { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, ...extra });
}

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
