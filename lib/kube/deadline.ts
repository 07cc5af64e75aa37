/**
 * Deadline middleware: one attempt of a request (not a watch) gets at most `timeoutMs` on the
 * clock, body included, and a request that ran out of time fails as a {@link ConnectionError} the
 * retry middleware above may resend. The layers below must have read the body by the time they
 * return (response.ts does), since the deadline is disposed then.
 */
import { type Clock, deadlineSignal, realClock } from "../time/mod.ts";
import { ConnectionError } from "./errors.ts";
import { type Middleware, wrapTransport } from "./transport.ts";

/** Middleware that bounds each non-streaming request by `timeoutMs` on `clock`. */
export function deadline(timeoutMs: number, clock: Clock = realClock): Middleware {
  return (next) =>
    wrapTransport(next, async (req) => {
      // A watch lives as long as it delivers; its idle watchdog (watch.ts) judges it instead.
      if (req.stream) return next.request(req);
      const bound = deadlineSignal(clock, timeoutMs, req.signal);
      try {
        return await next.request({ ...req, signal: bound.signal });
      } catch (err) {
        // The caller's own abort is no failure of the server: passed on unchanged.
        if (req.signal?.aborted || !bound.signal.aborted) throw err;
        const request = `${req.method} ${req.path}`;
        throw new ConnectionError(`${request}: no answer from ${next.server} within ${timeoutMs} ms`, {
          code: 0,
          request,
          cause: err,
        });
      } finally {
        bound.dispose();
      }
    });
}
