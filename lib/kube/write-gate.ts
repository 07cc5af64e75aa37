/**
 * A write gate: transport middleware that refuses every request but GET while writes are not
 * allowed, before it leaves the process. Whoever owns the condition decides what it means; the
 * runtime's leader election closes it when this replica stops leading (lib/runtime/fence.ts), so
 * a deposed replica cannot write even if a reconciler ignores its abort signal. It belongs below
 * the retry middleware, so an attempt resent after the gate closed is refused too.
 */
import type { KubeRequest, Middleware, Transport } from "./transport.ts";

/** Raised instead of sending a write while a {@link WriteGate} is closed. */
export class WriteRefusedError extends Error {
  /** Verb and path of the refused request. */
  readonly request: string;

  /**
   * The refusal of one request.
   * @param request "VERB path"
   * @param reason why writes are refused, in words for the message
   */
  constructor(request: string, reason = "writes are not allowed now") {
    super(`${request}: refused, ${reason}`);
    this.name = new.target.name;
    this.request = request;
  }
}

/** Builds the error a closed gate raises for a request. */
export type RefuseWrite = (request: string) => Error;

/** Passes reads through always and writes only while `allowed()` is true. */
export class WriteGate implements Transport {
  readonly server: string;
  readonly #refuse: RefuseWrite;

  /**
   * A gate in front of `inner`.
   * @param inner where allowed requests go
   * @param allowed asked for every write, at the moment it would be sent
   * @param refuse the error of a refused write (default {@link WriteRefusedError})
   */
  constructor(
    readonly inner: Transport,
    readonly allowed: () => boolean,
    refuse: RefuseWrite = (request) => new WriteRefusedError(request),
  ) {
    this.server = inner.server;
    this.#refuse = refuse;
  }

  /** Passes a GET, or any request while `allowed()`; else rejects with the refusal. */
  request(req: KubeRequest): Promise<Response> {
    if (req.method !== "GET" && !this.allowed()) {
      return Promise.reject(this.#refuse(`${req.method} ${req.path}`));
    }
    return this.inner.request(req);
  }

  /** Closes the transport behind the gate. */
  close(): void {
    this.inner.close();
  }
}

/** Middleware form of {@link WriteGate}, for stacking. */
export function writeGate(allowed: () => boolean, refuse?: RefuseWrite): Middleware {
  return (next) => new WriteGate(next, allowed, refuse);
}
