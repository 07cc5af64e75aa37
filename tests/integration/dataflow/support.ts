/** Helpers shared by the DataFlow integration tests. */
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";

/** Polls `fn` every 100 ms until it returns a truthy value (errors count as not yet); throws on timeout. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** Counts the writes (non-GET requests) that go through it. */
export class CountingTransport implements Transport {
  writes: string[] = [];
  constructor(readonly inner: Transport) {}
  get server(): string {
    return this.inner.server;
  }
  request(req: KubeRequest): Promise<Response> {
    if (req.method !== "GET") this.writes.push(`${req.method} ${req.path}`);
    return this.inner.request(req);
  }
  close(): void {
    this.inner.close();
  }
}
