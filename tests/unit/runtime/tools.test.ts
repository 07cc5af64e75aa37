/** The fault-injecting transport and the TCP proxy of tests/tools, on their own. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { KubeClient } from "../../../lib/kube/client.ts";
import { ConnectionError, ServerError, TooManyRequestsError } from "../../../lib/kube/errors.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeApiServer, FaultTransport, TcpProxy } from "../../tools/mod.ts";
import { waitFor } from "../../tools/wait.ts";

const CM = "v1/configmaps";
const noRetry = { retry: { maxRetries: 0 }, registry: new Registry() };

describe("FaultTransport", () => {
  it("counts requests by verb and path", async () => {
    const api = new FakeApiServer();
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    const faults = new FaultTransport(api);
    const c = new KubeClient(faults, noRetry);
    await c.get(builtin.ConfigMap, "a", { namespace: "ns" });
    await c.list(builtin.ConfigMap, { namespace: "ns" });
    await c.list(builtin.Namespace);
    await c.create(builtin.ConfigMap, { metadata: { name: "b", namespace: "ns" } });
    const ac = new AbortController();
    const w = c.watch(builtin.ConfigMap, { namespace: "ns", signal: ac.signal });
    await w.next();
    ac.abort();
    assert.equal(faults.count({ verb: "GET" }), 1);
    assert.equal(faults.count({ verb: "LIST" }), 2);
    assert.equal(faults.count({ verb: "POST" }), 1);
    assert.equal(faults.count({ verb: "WATCH" }), 1);
    assert.equal(faults.count({ path: "/api/v1/namespaces/ns/" }), 4);
    assert.equal(faults.summary()["LIST /api/v1/namespaces"], 1);
  });

  it("throttles with Retry-After, fails a share with 5xx, and heals", async () => {
    const api = new FakeApiServer();
    api.put(CM, { metadata: { name: "a", namespace: "ns" } });
    let r = 0;
    const faults = new FaultTransport(api, { random: () => (r++ % 2 ? 0.9 : 0.1) });
    const c = new KubeClient(faults, noRetry);
    faults.throttle({ count: 2, retryAfterSeconds: 3, verbs: ["GET"] });
    for (let i = 0; i < 2; i++) {
      const err = await c.get(builtin.ConfigMap, "a", { namespace: "ns" }).catch((e) => e);
      assert.ok(err instanceof TooManyRequestsError);
      assert.equal(err.retryAfterSeconds, 3);
    }
    await c.get(builtin.ConfigMap, "a", { namespace: "ns" });
    faults.failShare(0.5, { status: 503 });
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => c.list(builtin.ConfigMap, { namespace: "ns" }).then(() => "ok", (e) => e)),
    );
    assert.equal(results.filter((x) => x instanceof ServerError).length, 2);
    faults.heal();
    await c.list(builtin.ConfigMap, { namespace: "ns" });
    assert.equal(faults.count({ outcome: "throttled" }), 2);
    assert.equal(faults.count({ outcome: "failed" }), 2);
  });

  it("cuts and stalls watch streams, and partitions the client (refuse or blackhole)", async () => {
    const api = new FakeApiServer();
    const faults = new FaultTransport(api);
    const c = new KubeClient(faults, noRetry);
    const w = c.watch(builtin.ConfigMap, { namespace: "ns", idleTimeoutMs: 0 });
    let got = false;
    const first = w.next().finally(() => (got = true));
    await waitFor("the watch stream", () => faults.openStreams === 1, { intervalMs: 1 });
    faults.stallWatches(true);
    api.put(CM, { metadata: { name: "held", namespace: "ns" } });
    // First the positive signal: the event's bytes reached the transport and are held there.
    await waitFor("the event held by the stall", () => faults.heldChunks === 1, { intervalMs: 1 });
    assert.equal(got, false, "a stalled stream delivered the event");
    faults.stallWatches(false);
    assert.equal(
      ((await first).value as { object: { metadata: { name: string } } }).object.metadata.name,
      "held",
    );
    assert.equal(faults.cutWatches(), 1);
    await assert.rejects(w.next(), /cut by the fault transport/);
    faults.partition("refuse");
    await assert.rejects(c.list(builtin.ConfigMap, { namespace: "ns" }), ConnectionError);
    faults.partition("blackhole");
    const ac = new AbortController();
    const blackholed = faults.count({ outcome: "blackholed" });
    const hung = c.list(builtin.ConfigMap, { namespace: "ns", signal: ac.signal }).then(
      () => "answered",
      () => "aborted",
    );
    // The request reached the partition (it is held there, unanswered) before it is aborted.
    await waitFor(
      "the request at the partition",
      () => faults.count({ outcome: "blackholed" }) > blackholed,
      {
        intervalMs: 1,
      },
    );
    ac.abort();
    assert.equal(await hung, "aborted");
    faults.heal();
    await c.list(builtin.ConfigMap, { namespace: "ns" });
  });
});

describe("TcpProxy", () => {
  it("forwards, cuts, refuses and blackholes TCP connections", async () => {
    const srv = createServer((_req, res) => res.end("hello"));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    const proxy = await TcpProxy.start({ target: `127.0.0.1:${port}` });
    const url = `http://127.0.0.1:${proxy.port}/`;
    const get = (ms = 500) =>
      fetch(url, { signal: AbortSignal.timeout(ms), headers: { connection: "close" } }).then((r) => r.text())
        .then(
          (t) => t,
          (e: Error) => `error:${e.name}`,
        );
    try {
      assert.equal(await get(), "hello");
      proxy.refuse();
      assert.match(await get(), /^error:/);
      proxy.restore();
      assert.equal(await get(), "hello");
      proxy.blackhole();
      assert.match(await get(300), /^error:(TimeoutError|AbortError)/);
      proxy.restore();
      assert.equal(await get(), "hello");
      assert.ok(proxy.connections >= 4);
      assert.ok(proxy.bytes.down > 0);
    } finally {
      await proxy.close();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
