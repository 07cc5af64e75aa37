/** A scripted Transport for unit tests: answers requests from a handler and records them. */
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
