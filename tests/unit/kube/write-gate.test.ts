/** The write gate: writes refused before they leave the process while the gate is closed; reads always pass. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { stackTransport } from "../../../lib/kube/transport.ts";
import { WriteGate, writeGate, WriteRefusedError } from "../../../lib/kube/write-gate.ts";
import { FencedTransport, WriteFencedError } from "../../../lib/runtime/fence.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeTransport, json } from "./fake-transport.ts";

const cm = { metadata: { name: "a", namespace: "n" } };

describe("write gate", () => {
  it("refuses every verb but GET while closed, and passes them again once open", async () => {
    let open = false;
    const t = new FakeTransport(() => json(200, {}));
    const registry = new Registry();
    const c = new KubeClient(stackTransport(t, writeGate(() => open)), {
      registry,
      sleep: () => Promise.resolve(),
    });
    await c.get(builtin.ConfigMap, "a", { namespace: "n" });
    await c.list(builtin.ConfigMap);
    const writes = [
      () => c.create(builtin.ConfigMap, cm),
      () => c.replace(builtin.ConfigMap, cm),
      () => c.patch(builtin.ConfigMap, "a", {}, { namespace: "n" }),
      () => c.delete(builtin.ConfigMap, "a", { namespace: "n" }),
      () => c.postRaw("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {}),
    ];
    for (const write of writes) {
      await assert.rejects(write(), (err: unknown) => {
        assert.ok(err instanceof WriteRefusedError, String(err));
        assert.match(err.message, /^(POST|PUT|PATCH|DELETE) \/ap[^:]+: refused, writes are not allowed now$/);
        return true;
      });
    }
    assert.deepEqual(
      t.requests.map((r) => r.method),
      ["GET", "GET"],
      "no write left the process, none was retried",
    );
    const requests = registry.counter("rest_client_requests_total", "", ["code", "method", "host"]);
    assert.equal(requests.get({ code: "<error>", method: "POST", host: "fake.test:6443" }), 2);
    open = true;
    await c.create(builtin.ConfigMap, cm);
    assert.equal(t.requests.at(-1)?.method, "POST");
  });

  it("asks at the moment each attempt is sent: a write retried after the gate closed is refused", async () => {
    let open = true;
    const t = new FakeTransport(() => {
      open = false; // leadership lost while the server throttled us
      return new Response("", { status: 429, headers: { "retry-after": "1" } });
    });
    const c = new KubeClient(new WriteGate(t, () => open), {
      registry: new Registry(),
      sleep: () => Promise.resolve(),
    });
    await assert.rejects(c.create(builtin.ConfigMap, cm), WriteRefusedError);
    assert.equal(t.requests.length, 1);
  });

  it("the leader's fence is the gate with the leader's words", async () => {
    const t = new FakeTransport(() => json(200, {}));
    const fenced = new FencedTransport(t, () => false);
    assert.equal(fenced.server, t.server);
    await assert.rejects(
      fenced.request({ method: "DELETE", path: "/api/v1/namespaces/n/configmaps/a" }),
      (err: unknown) => {
        assert.ok(err instanceof WriteFencedError);
        assert.ok(err instanceof WriteRefusedError);
        assert.equal(err.name, "WriteFencedError");
        assert.equal(
          err.message,
          "DELETE /api/v1/namespaces/n/configmaps/a: refused, this replica is not the leader (writes are fenced)",
        );
        return true;
      },
    );
  });
});
