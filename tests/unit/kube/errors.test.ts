import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ConflictError,
  errorFromResponse,
  GoneError,
  InvalidError,
  NotFoundError,
  ServerError,
  TooManyRequestsError,
} from "../../../lib/kube/errors.ts";

const st = (code: number, reason: string, extra: Record<string, unknown> = {}) => ({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  code,
  reason,
  message: `m-${reason}`,
  ...extra,
});

describe("errorFromResponse", () => {
  it("types by reason first", () => {
    assert.ok(errorFromResponse(404, st(404, "NotFound")) instanceof NotFoundError);
    assert.ok(errorFromResponse(409, st(409, "Conflict")) instanceof ConflictError);
    assert.ok(errorFromResponse(409, st(409, "AlreadyExists")) instanceof AlreadyExistsError);
    assert.ok(errorFromResponse(410, st(410, "Expired")) instanceof GoneError);
    assert.ok(errorFromResponse(410, st(410, "Gone")) instanceof GoneError);
    // reason wins over the code when both are known
    assert.ok(errorFromResponse(500, st(500, "NotFound")) instanceof NotFoundError);
  });

  it("falls back to the code when the reason is unknown or absent", () => {
    assert.ok(errorFromResponse(429, "Too Many Requests") instanceof TooManyRequestsError);
    assert.ok(errorFromResponse(404, st(404, "SomethingNew")) instanceof NotFoundError);
    assert.ok(errorFromResponse(503, "") instanceof ServerError);
  });

  it("keeps Retry-After from the header or details, and the field causes", () => {
    assert.equal(errorFromResponse(429, "", "GET /x", "7").retryAfterSeconds, 7);
    const e = errorFromResponse(500, st(500, "ServerTimeout", { details: { retryAfterSeconds: 3 } }));
    assert.equal(e.retryAfterSeconds, 3);
    const inv = errorFromResponse(
      422,
      st(422, "Invalid", {
        details: { causes: [{ field: "spec.source.type", message: "Unsupported value" }] },
      }),
    );
    assert.ok(inv instanceof InvalidError);
    assert.equal(inv.causes[0].field, "spec.source.type");
    assert.match(inv.message, /m-Invalid/);
  });

  it("names the request and never invents a message from nothing", () => {
    const e = errorFromResponse(502, "", "GET /api/v1/pods");
    assert.equal(e.message, "GET /api/v1/pods: HTTP 502");
    assert.equal(e.code, 502);
  });
});
