/**
 * A write fence: a {@link Transport} wrapper that refuses every request but GET while writes are
 * not allowed. The manager hands controllers a client behind this fence, so a replica that lost
 * its lease cannot write even if a reconciler ignores its abort signal.
 */
import type { KubeRequest, Transport } from "../kube/transport.ts";

/** Raised instead of sending a write while the fence is closed. */
export class WriteFencedError extends Error {
  constructor(request: string) {
    super(`${request}: refused, this replica is not the leader (writes are fenced)`);
    this.name = "WriteFencedError";
  }
}

/** Passes reads through always and writes only while `allowed()` is true. */
export class FencedTransport implements Transport {
  readonly server: string;
  constructor(readonly inner: Transport, readonly allowed: () => boolean) {
    this.server = inner.server;
  }

  request(req: KubeRequest): Promise<Response> {
    if (req.method !== "GET" && !this.allowed()) {
      return Promise.reject(new WriteFencedError(`${req.method} ${req.path}`));
    }
    return this.inner.request(req);
  }

  close(): void {
    this.inner.close();
  }
}
