/** The per-attempt deadline on the fake clock: a silent server becomes a ConnectionError, body included. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { ConnectionError } from "../../../lib/kube/errors.ts";
import { HttpTransport } from "../../../lib/kube/transport.ts";
import { WatchIdleError } from "../../../lib/kube/watch.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { FakeTransport, noAnswer, settle, stalledBodyResponse } from "./fake-transport.ts";

function setup(handler: ConstructorParameters<typeof FakeTransport>[0]) {
  const clock = new FakeClock();
  const t = new FakeTransport(handler);
  const c = new KubeClient(t, {
    clock,
    registry: new Registry(),
    requestTimeoutMs: 5_000,
    retry: { maxRetries: 0 },
  });
  return { clock, t, c };
}

describe("deadline middleware", () => {
  it("fails an attempt that got no answer within the timeout as a ConnectionError", async () => {
    const { clock, c } = setup((r) => noAnswer(r.signal));
    const got = settle(c.get(builtin.ConfigMap, "a", { namespace: "n" }));
    await clock.advance(4_999);
    assert.equal(got.done, false);
    await clock.advance(1);
    await flushMicrotasks();
    assert.ok(got.error instanceof ConnectionError, String(got.error));
    assert.equal(
      (got.error as ConnectionError).message,
      "GET /api/v1/namespaces/n/configmaps/a: no answer from https://fake.test:6443 within 5000 ms",
    );
  });

  it("covers the body: headers in time and a body that stalls is a timeout too", async () => {
    const { clock, c } = setup((r) => stalledBodyResponse(r.signal));
    const got = settle(c.list(builtin.ConfigMap));
    await clock.advance(5_000);
    await flushMicrotasks();
    assert.ok(got.error instanceof ConnectionError, String(got.error));
    assert.match((got.error as Error).message, /no answer .* within 5000 ms/);
  });

  it("passes the caller's abort through unchanged and leaves no timer behind", async () => {
    const { clock, c } = setup((r) => noAnswer(r.signal));
    const ac = new AbortController();
    const got = settle(c.get(builtin.ConfigMap, "a", { namespace: "n", signal: ac.signal }));
    await flushMicrotasks();
    const reason = new Error("stop");
    ac.abort(reason);
    await flushMicrotasks();
    assert.equal(got.error, reason);
    assert.equal(clock.pendingTimers, 0);
  });

  it("does not bound a watch", async () => {
    const { clock, t, c } = setup((r) => stalledBodyResponse(r.signal));
    const ac = new AbortController();
    const events = c.watch(builtin.ConfigMap, { signal: ac.signal, idleTimeoutMs: 0 });
    const next = settle(events.next());
    await clock.advance(60_000);
    assert.equal(next.done, false, "a quiet watch is still open");
    assert.equal(t.requests[0].stream, true);
    ac.abort(new Error("done"));
    await flushMicrotasks();
    assert.ok(next.done);
  });

  it("a watch's idle watchdog runs on the client's clock", async () => {
    const { clock, c } = setup((r) => stalledBodyResponse(r.signal));
    const next = settle(c.watch(builtin.ConfigMap, { idleTimeoutMs: 90_000 }).next());
    await clock.advance(89_999);
    assert.equal(next.done, false);
    await clock.advance(1);
    await flushMicrotasks();
    assert.ok(next.error instanceof WatchIdleError, String(next.error));
  });

  it("covers fetching the credentials: a credential plugin that hangs is a timeout too", async () => {
    const clock = new FakeClock();
    // Nothing is sent: the request waits for credentials that never come (a stuck exec plugin).
    const transport = new HttpTransport({
      server: "https://127.0.0.1:1",
      tls: {},
      credentials: { get: () => new Promise(() => {}), invalidate() {} },
    });
    const c = new KubeClient(transport, {
      clock,
      registry: new Registry(),
      requestTimeoutMs: 5_000,
      retry: { maxRetries: 0 },
    });
    const got = settle(c.get(builtin.ConfigMap, "a", { namespace: "n" }));
    await clock.advance(5_000);
    await flushMicrotasks();
    assert.ok(got.error instanceof ConnectionError, String(got.error));
    assert.match((got.error as Error).message, /no answer .* within 5000 ms/);

    const ac = new AbortController();
    const aborted = settle(c.get(builtin.ConfigMap, "a", { namespace: "n", signal: ac.signal }));
    const reason = new Error("stop");
    ac.abort(reason);
    await flushMicrotasks();
    assert.equal(aborted.error, reason, "the caller's abort ends the wait for credentials");
    assert.equal(clock.pendingTimers, 0);
  });
});
