import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ConflictError,
  ConnectionError,
  errorFromResponse,
  GoneError,
  InvalidError,
  isRetryable,
  NamespaceRequiredError,
  NotFoundError,
  ResponseBodyError,
  ServerError,
  summarizeBody,
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

describe("what an error says: detail in words, request kept apart", () => {
  it("the Status message is the detail; the message adds verb and path", () => {
    const request = "POST /apis/apps/v1/namespaces/x/deployments";
    const e = errorFromResponse(
      422,
      st(422, "Invalid", { message: 'Deployment.apps "dataflow-x" is invalid: spec.template: bad' }),
      request,
    );
    assert.equal(e.detail, 'Deployment.apps "dataflow-x" is invalid: spec.template: bad');
    assert.equal(e.message, `${request}: ${e.detail}`);
    assert.equal(e.request, request);
    assert.equal(e.code, 422);
    assert.equal(e.reason, "Invalid");
  });

  it("an error built elsewhere with the request in front gets the rest as its detail", () => {
    const e = new ConnectionError("GET /api/v1/pods: cannot reach https://h:6443: connection refused", {
      code: 0,
      request: "GET /api/v1/pods",
    });
    assert.equal(e.detail, "cannot reach https://h:6443: connection refused");
  });

  it("an HTML page from a proxy becomes one line: code, server and title", () => {
    const page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
      "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";
    const e = errorFromResponse(502, page, "GET /api/v1/pods", null, "https://10.0.0.1:6443");
    assert.ok(e instanceof ServerError);
    assert.equal(e.detail, "HTTP 502 from https://10.0.0.1:6443: 502 Bad Gateway");
    assert.equal(e.message, "GET /api/v1/pods: HTTP 502 from https://10.0.0.1:6443: 502 Bad Gateway");
    assert.doesNotMatch(e.message, /[\r\n<>]/);
  });

  it("summarises other bodies in at most 200 characters on one line", () => {
    assert.equal(
      summarizeBody(
        "<!DOCTYPE html>\n<html><body>\n<h1>Service &amp; API\n unavailable</h1><p>x</p></body></html>",
      ),
      "Service & API unavailable",
    );
    assert.equal(
      summarizeBody(
        "<html><head><script>var a = '<p>';</script></head><body><p>Upstream\n\n  reset</p></body></html>",
      ),
      "Upstream reset",
    );
    assert.equal(
      summarizeBody("upstream connect error\n  or disconnect/reset before headers"),
      "upstream connect error or disconnect/reset before headers",
    );
    const long = summarizeBody(`${"word ".repeat(100)}`);
    assert.ok(long.length <= 201 && long.endsWith("…"), long);
    assert.equal(summarizeBody({ error: "quota exceeded" }), '{"error":"quota exceeded"}');
    assert.equal(summarizeBody(""), "");
    assert.equal(
      errorFromResponse(503, "  \n ", undefined, null, "https://h").detail,
      "HTTP 503 from https://h",
    );
    assert.equal(errorFromResponse(429, "Too Many Requests").message, "HTTP 429: Too Many Requests");
  });
});

describe("which errors are transient", () => {
  it("429, 5xx, no response and a broken body are; answers about the request itself are not", () => {
    const transient = [
      errorFromResponse(429, ""),
      errorFromResponse(503, ""),
      new ConnectionError("GET /x: connection refused", { code: 0 }),
      new ResponseBodyError("GET /x: the response body broke off after HTTP 200: reset", { code: 200 }),
    ];
    for (const e of transient) assert.ok(isRetryable(e), e.message);
    const final = [404, 409, 410, 401, 403, 422, 400].map((code) => errorFromResponse(code, ""));
    for (const e of final) assert.ok(!isRetryable(e), e.message);
    assert.ok(!isRetryable(new TypeError("a bug")));
  });

  it("a missing namespace is a usage error naming verb, kind and object", () => {
    const e = new NamespaceRequiredError("delete", "Deployment", "deployments", "web");
    assert.ok(e instanceof TypeError);
    assert.ok(!isRetryable(e));
    assert.equal(e.name, "NamespaceRequiredError");
    assert.equal(
      e.message,
      'delete Deployment "web": deployments are namespaced; set the namespace option (the client fills in no namespace)',
    );
    assert.match(
      new NamespaceRequiredError("create", "ConfigMap", "configmaps").message,
      /^create ConfigMap: configmaps are namespaced; set the namespace option or metadata\.namespace/,
    );
  });
});
