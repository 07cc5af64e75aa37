/**
 * Response middleware: what comes back from the layers below becomes either a 2xx response whose
 * body is already in memory, or a typed error. A non-2xx answer is typed from its Status body
 * (errors.ts); a body that breaks off after the headers (a connection reset mid-body, which fetch
 * reports as a bare TypeError) becomes a {@link ResponseBodyError}, so the retry middleware above
 * can resend a read and callers never mistake a network failure for a bug. A watch (`stream`)
 * keeps its body unread: watch.ts consumes it as it arrives.
 */
import { errorFromResponse, ResponseBodyError } from "./errors.ts";
import { describeNetworkError } from "./network-errors.ts";
import { type KubeRequest, type Middleware, wrapTransport } from "./transport.ts";

/** Statuses whose responses cannot carry a body (the fetch standard's "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Middleware that types failed responses and reads successful (non-watch) bodies whole. */
export function readResponses(): Middleware {
  return (next) =>
    wrapTransport(next, async (req) => {
      const res = await next.request(req);
      if (!res.ok) throw await failure(res, req, next.server);
      if (req.stream || !res.body) return res;
      const body = await readBody(res, req, next.server);
      return new Response(NULL_BODY_STATUS.has(res.status) ? null : body, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    });
}

/** The typed error of a non-2xx response, from its Status body when it has one. */
async function failure(res: Response, req: KubeRequest, server: string): Promise<Error> {
  const request = `${req.method} ${req.path}`;
  // The error body only adds words: when it cannot be read, the status code alone types the error.
  const text = await res.text().catch(() => "");
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON (a proxy's page, plain text): errorFromResponse summarises the text */ }
  return errorFromResponse(res.status, parsed, request, res.headers.get("retry-after"), server);
}

/** The whole body, or a {@link ResponseBodyError} when the connection broke off while reading it. */
async function readBody(res: Response, req: KubeRequest, server: string): Promise<ArrayBuffer> {
  try {
    return await res.arrayBuffer();
  } catch (err) {
    // An abort (the caller's, or the deadline's) is reported by the layer that owns the signal.
    if (req.signal?.aborted) throw req.signal.reason ?? err;
    const request = `${req.method} ${req.path}`;
    throw new ResponseBodyError(
      `${request}: the response body broke off after HTTP ${res.status}: ${
        describeNetworkError(err, server)
      }`,
      { code: res.status, request, cause: err },
    );
  }
}
