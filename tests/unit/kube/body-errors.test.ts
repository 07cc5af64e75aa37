/**
 * A response whose body fails is a typed, transient error: never the TypeError of a reset
 * mid-body nor the SyntaxError of a body that is not JSON, which a controller would count as bugs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { isRetryable, ResponseBodyError, ServerError } from "../../../lib/kube/errors.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { brokenBodyResponse, FakeTransport, json } from "./fake-transport.ts";

const client = (t: FakeTransport, maxRetries = 10) =>
  new KubeClient(t, { registry: new Registry(), retry: { maxRetries }, sleep: () => Promise.resolve() });

describe("a body that breaks off mid-way", () => {
  it("is a ResponseBodyError naming the reset, transient, not a TypeError", async () => {
    const t = new FakeTransport(() => brokenBodyResponse('{"kind":"ConfigMapList","items":[{"meta'));
    await assert.rejects(client(t, 0).list(builtin.ConfigMap, { namespace: "n" }), (err: unknown) => {
      assert.ok(err instanceof ResponseBodyError, String(err));
      assert.ok(!(err instanceof TypeError));
      assert.equal(err.code, 200);
      assert.equal(err.request, "GET /api/v1/namespaces/n/configmaps");
      assert.match(
        err.detail,
        /^the response body broke off after HTTP 200: connection reset by fake\.test:6443$/,
      );
      assert.ok(err.cause instanceof TypeError, "the runtime's error is kept as the cause");
      assert.ok(isRetryable(err));
      return true;
    });
  });

  it("a read is resent in place and succeeds", async () => {
    const t = new FakeTransport((_r, i) =>
      i === 0 ? brokenBodyResponse('{"items":[') : json(200, { items: [] })
    );
    const list = await client(t).list(builtin.ConfigMap, { namespace: "n" });
    assert.deepEqual(list.items, []);
    assert.equal(t.requests.length, 2);
  });

  it("a write is not resent: the server may have applied it", async () => {
    const t = new FakeTransport(() => brokenBodyResponse('{"metadata":'));
    await assert.rejects(
      client(t).create(builtin.ConfigMap, { metadata: { name: "a", namespace: "n" } }),
      ResponseBodyError,
    );
    assert.equal(t.requests.length, 1);
  });
});

describe("a body that is not JSON", () => {
  it("is a ResponseBodyError with the body summarised, not a SyntaxError", async () => {
    const page = "<html><head><title>Captive portal</title></head><body>log in</body></html>";
    const t = new FakeTransport(() =>
      new Response(page, { status: 200, headers: { "content-type": "text/html" } })
    );
    await assert.rejects(client(t).get(builtin.ConfigMap, "a", { namespace: "n" }), (err: unknown) => {
      assert.ok(err instanceof ResponseBodyError, String(err));
      assert.ok(!(err instanceof SyntaxError));
      assert.equal(err.detail, "the response body (HTTP 200) is not JSON: Captive portal");
      assert.ok(err.cause instanceof SyntaxError);
      assert.ok(isRetryable(err));
      return true;
    });
  });

  it("a truncated JSON body is one too", async () => {
    const t = new FakeTransport(() => new Response('{"kind":"ConfigMap","metadata":{"na', { status: 200 }));
    await assert.rejects(client(t).get(builtin.ConfigMap, "a", { namespace: "n" }), ResponseBodyError);
  });

  it("an error response that is not JSON still types by its code", async () => {
    const t = new FakeTransport(() => new Response("upstream reset", { status: 502 }));
    await assert.rejects(client(t, 0).get(builtin.ConfigMap, "a", { namespace: "n" }), (err: unknown) => {
      assert.ok(err instanceof ServerError);
      assert.equal(err.detail, "HTTP 502 from https://fake.test:6443: upstream reset");
      return true;
    });
  });
});
