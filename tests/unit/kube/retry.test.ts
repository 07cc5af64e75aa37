/** The retry middleware through the client, on the fake clock: what is resent, when, and what is counted. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeClientOptions } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import {
  ConflictError,
  ConnectionError,
  NotFoundError,
  ServerError,
  TooManyRequestsError,
} from "../../../lib/kube/errors.ts";
import { DEFAULT_RETRY_POLICY, RETRY_JITTER } from "../../../lib/kube/retry.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { FakeTransport, json, settle, status } from "./fake-transport.ts";

const cm = { metadata: { name: "x", namespace: "n" } };

function setup(handler: ConstructorParameters<typeof FakeTransport>[0], options: KubeClientOptions = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const t = new FakeTransport(handler);
  // random 0: no jitter, so the waits are exact.
  const c = new KubeClient(t, { clock, registry, random: () => 0, ...options });
  return { clock, registry, t, c };
}

describe("retry middleware", () => {
  it("resends a GET after 500 and a connection error, waiting the exponential backoff in between", async () => {
    const { clock, registry, t, c } = setup((_r, i) => {
      if (i === 0) return status(500, "InternalError");
      if (i === 1) throw new ConnectionError("GET /x: connection reset", { code: 0 });
      return json(200, { metadata: { name: "a" } });
    });
    const got = settle(c.get(builtin.ConfigMap, "a", { namespace: "n" }));
    await flushMicrotasks();
    assert.equal(t.requests.length, 1);
    await clock.advance(DEFAULT_RETRY_POLICY.baseDelayMs - 1);
    assert.equal(t.requests.length, 1, "not before the first backoff");
    await clock.advance(1);
    assert.equal(t.requests.length, 2);
    await clock.advance(2 * DEFAULT_RETRY_POLICY.baseDelayMs - 1);
    assert.equal(t.requests.length, 2, "the second backoff doubled");
    await clock.advance(1);
    assert.equal(t.requests.length, 3);
    await flushMicrotasks();
    assert.ok(got.done && !got.error, String(got.error));
    assert.deepEqual(got.value, { metadata: { name: "a" } });
    const retries = registry.counter("rest_client_request_retries_total", "", ["code", "verb", "host"]);
    assert.equal(retries.get({ code: "500", verb: "GET", host: "fake.test:6443" }), 1);
    assert.equal(retries.get({ code: "<error>", verb: "GET", host: "fake.test:6443" }), 1);
    const requests = registry.counter("rest_client_requests_total", "", ["code", "method", "host"]);
    assert.equal(requests.get({ code: "500", method: "GET", host: "fake.test:6443" }), 1);
    assert.equal(requests.get({ code: "200", method: "GET", host: "fake.test:6443" }), 1);
  });

  it("adds up to half the backoff as jitter, from the injected random source", async () => {
    const { clock, t, c } = setup(
      (_r, i) => (i === 0 ? status(503, "ServiceUnavailable") : json(200, {})),
      { random: () => 0.999 },
    );
    settle(c.get(builtin.ConfigMap, "a", { namespace: "n" }));
    // random 0.999: the wait is just under base × (1 + RETRY_JITTER).
    const longest = DEFAULT_RETRY_POLICY.baseDelayMs * (1 + RETRY_JITTER);
    await clock.advance(longest - 1);
    assert.equal(t.requests.length, 1, "the jitter lengthened the wait");
    await clock.advance(1);
    assert.equal(t.requests.length, 2);
  });

  it("resends a write refused with 429 after its Retry-After, but not a write that failed with 500", async () => {
    const { clock, t, c } = setup((_r, i) =>
      i === 0 ? new Response("", { status: 429, headers: { "retry-after": "2" } }) : json(201, {})
    );
    const created = settle(c.create(builtin.ConfigMap, cm));
    await clock.advance(1_999);
    assert.equal(t.requests.length, 1, "the server asked for 2 s");
    await clock.advance(1);
    await flushMicrotasks();
    assert.equal(t.requests.length, 2);
    assert.ok(created.done && !created.error);

    const s = setup(() => status(500, "InternalError"));
    await assert.rejects(s.c.create(builtin.ConfigMap, cm), ServerError);
    assert.equal(s.t.requests.length, 1, "a write that may have been applied is not resent");
  });

  it("resends a write after a 5xx that asked for a Retry-After (the server did not process it)", async () => {
    const { clock, t, c } = setup((_r, i) =>
      i === 0 ? status(503, "ServiceUnavailable", "draining", { "retry-after": "1" }) : json(200, {})
    );
    const patched = settle(c.patch(builtin.ConfigMap, "x", {}, { namespace: "n" }));
    await clock.advance(1_000);
    await flushMicrotasks();
    assert.equal(t.requests.length, 2);
    assert.ok(patched.done && !patched.error);
  });

  it("does not resend a write after a connection error, nor anything after 404 or 409", async () => {
    const { t, c } = setup((r) => {
      if (r.method === "POST") throw new ConnectionError("POST: reset", { code: 0 });
      return r.method === "GET" ? status(404, "NotFound") : status(409, "Conflict");
    });
    await assert.rejects(c.create(builtin.ConfigMap, cm), ConnectionError);
    await assert.rejects(c.get(builtin.ConfigMap, "x", { namespace: "n" }), NotFoundError);
    await assert.rejects(c.replace(builtin.ConfigMap, cm), ConflictError);
    assert.equal(t.requests.length, 3);
  });

  it("gives up after maxRetries with the typed error", async () => {
    const { t, c } = setup(() => new Response("", { status: 429 }), {
      retry: { maxRetries: 3 },
      sleep: () => Promise.resolve(),
    });
    await assert.rejects(c.list(builtin.Pod), TooManyRequestsError);
    assert.equal(t.requests.length, 4);
  });

  it("stops waiting when the caller aborts, with the caller's reason", async () => {
    const { clock, t, c } = setup(() => status(500, "InternalError"));
    const ac = new AbortController();
    const got = settle(c.get(builtin.ConfigMap, "x", { namespace: "n", signal: ac.signal }));
    await flushMicrotasks();
    assert.equal(t.requests.length, 1);
    const reason = new Error("shutting down");
    ac.abort(reason);
    await flushMicrotasks();
    assert.equal(got.error, reason);
    await clock.advance(60_000);
    assert.equal(t.requests.length, 1, "no attempt after the abort");
    assert.equal(clock.pendingTimers, 0);
  });
});
