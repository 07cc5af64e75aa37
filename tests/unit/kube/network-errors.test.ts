/** Connection failures said in words, from the error shapes each runtime's fetch really produces. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { describeNetworkError } from "../../../lib/kube/network-errors.ts";

/** An error chain like fetch's: a TypeError whose `cause` holds the runtime's detail. */
function fetchError(message: string, cause?: { message: string; code?: string }, code?: string): Error {
  const inner = cause
    ? Object.assign(new Error(cause.message), cause.code ? { code: cause.code } : {})
    : undefined;
  return Object.assign(new TypeError(message, { cause: inner }), code ? { code } : {});
}

const server = "https://127.0.0.1:6443";

it("names a refused connection with host and port (Deno, Bun)", () => {
  const deno = fetchError("fetch failed", {
    message: "error sending request for url (https://127.0.0.1:6443/version): client error (Connect): " +
      "tcp connect error: Connection refused (os error 111)",
  });
  const bun = fetchError(
    "ECONNREFUSED: Unable to connect. Is the computer able to access the url?",
    undefined,
    "ECONNREFUSED",
  );
  for (const e of [deno, bun]) {
    assert.equal(describeNetworkError(e, server), "connection refused 127.0.0.1:6443");
  }
});

it("names a failed DNS lookup", () => {
  const deno = fetchError("fetch failed", {
    message:
      "client error (Connect): dns error: failed to lookup address information: Name or service not known",
  });
  const bun = fetchError("getaddrinfo ENOTFOUND api.example", undefined, "ENOTFOUND");
  for (const e of [deno, bun]) {
    assert.equal(describeNetworkError(e, "https://api.example:6443"), "DNS lookup of api.example failed");
  }
});

it("says when the server does not speak TLS", () => {
  const deno = fetchError("fetch failed", {
    message: "client error (Connect): received corrupt message of type InvalidContentType",
  });
  const bun = fetchError(
    "EPROTO: The TLS handshake failed. Does the server speak TLS on this port?",
    undefined,
    "EPROTO",
  );
  for (const e of [deno, bun]) {
    assert.match(describeNetworkError(e, server), /^127\.0\.0\.1:6443 does not speak TLS/);
  }
});

it("names the certificate's problem", () => {
  const cases: [Error, RegExp][] = [
    [
      fetchError("fetch failed", { message: "invalid peer certificate: UnknownIssuer" }),
      /not signed by a trusted/,
    ],
    [
      fetchError("unable to verify the first certificate", undefined, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
      /not signed by a trusted/,
    ],
    [fetchError("fetch failed", { message: "invalid peer certificate: Expired" }), /has expired/],
    [fetchError("certificate has expired", undefined, "CERT_HAS_EXPIRED"), /has expired/],
    [fetchError("self signed certificate", undefined, "DEPTH_ZERO_SELF_SIGNED_CERT"), /self-signed/],
    [fetchError("fetch failed", { message: "invalid peer certificate: NotValidForName" }), /does not cover/],
  ];
  for (const [err, want] of cases) {
    const text = describeNetworkError(err, server);
    assert.match(text, /^TLS: the certificate of 127\.0\.0\.1:6443 /);
    assert.match(text, want);
  }
});

it("falls back to the most specific message of an unknown failure", () => {
  assert.equal(
    describeNetworkError(fetchError("fetch failed", { message: "something new" }), server),
    "something new",
  );
});
