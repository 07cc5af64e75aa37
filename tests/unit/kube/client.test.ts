import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin, resourceType } from "../../../lib/kube/resources.ts";
import {
  ConflictError,
  ConnectionError,
  GoneError,
  NotFoundError,
  TooManyRequestsError,
} from "../../../lib/kube/errors.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeTransport, json, status } from "./fake-transport.ts";

const noSleep = () => Promise.resolve();
const waits: number[] = [];
const recordSleep = (ms: number) => {
  waits.push(ms);
  return Promise.resolve();
};
const df = resourceType("dataflow.dataflow.io/v1", "DataFlow", "dataflows");

describe("KubeClient paths and verbs", () => {
  it("builds namespaced, cluster-scoped and custom resource paths", async () => {
    const t = new FakeTransport(() => json(200, { items: [], metadata: {} }));
    const c = new KubeClient(t, { namespace: "team", sleep: noSleep, registry: new Registry() });
    await c.get(builtin.ConfigMap, "cm");
    await c.get(builtin.Namespace, "ns1");
    await c.list(df, { namespace: "a", labelSelector: "x=y", limit: 5 });
    await c.list(builtin.Deployment);
    assert.deepEqual(t.requests.map((r) => r.url), [
      "/api/v1/namespaces/team/configmaps/cm",
      "/api/v1/namespaces/ns1",
      "/apis/dataflow.dataflow.io/v1/namespaces/a/dataflows?labelSelector=x%3Dy&limit=5",
      "/apis/apps/v1/deployments",
    ]);
  });

  it("sends patch content types, fieldManager and force; refuses strategic merge on custom resources", async () => {
    const t = new FakeTransport(() => json(200, {}));
    const c = new KubeClient(t, { sleep: noSleep, registry: new Registry() });
    await c.patch(builtin.Deployment, "d", { spec: {} }, { namespace: "n", type: "strategic" });
    await c.apply(df, {
      apiVersion: "dataflow.dataflow.io/v1",
      kind: "DataFlow",
      metadata: { name: "x", namespace: "n" },
    }, {
      fieldManager: "mgr",
      force: true,
    });
    await c.patch(df, "x", [{ op: "test", path: "/a", value: 1 }], {
      namespace: "n",
      type: "json",
      subresource: "status",
    });
    assert.equal(t.requests[0].headers?.["Content-Type"], "application/strategic-merge-patch+json");
    assert.equal(t.requests[1].headers?.["Content-Type"], "application/apply-patch+yaml");
    assert.match(t.requests[1].url, /fieldManager=mgr&force=true/);
    assert.equal(t.requests[2].url, "/apis/dataflow.dataflow.io/v1/namespaces/n/dataflows/x/status");
    assert.throws(
      () => c.patch(df, "x", {}, { namespace: "n", type: "strategic" }),
      /not supported for DataFlow/,
    );
  });

  it("delete sends preconditions and propagation policy", async () => {
    const t = new FakeTransport(() => json(200, { kind: "Status", status: "Success" }));
    const c = new KubeClient(t, { sleep: noSleep, registry: new Registry() });
    await c.delete(builtin.ConfigMap, "cm", {
      namespace: "n",
      preconditions: { uid: "u1", resourceVersion: "5" },
      propagationPolicy: "Foreground",
    });
    const body = JSON.parse(t.requests[0].body!);
    assert.deepEqual(body.preconditions, { uid: "u1", resourceVersion: "5" });
    assert.equal(body.propagationPolicy, "Foreground");
  });
});

describe("KubeClient retries", () => {
  it("retries a GET on 500 and connection errors, then succeeds", async () => {
    const t = new FakeTransport((_r, i) => {
      if (i === 0) return status(500, "InternalError");
      if (i === 1) throw new ConnectionError("reset", { code: 0 });
      return json(200, { metadata: { name: "a" } });
    });
    const registry = new Registry();
    const c = new KubeClient(t, { sleep: noSleep, registry });
    const got = await c.get<{ metadata: { name: string } }>(builtin.ConfigMap, "a", { namespace: "n" });
    assert.equal(got.metadata.name, "a");
    assert.equal(t.requests.length, 3);
    assert.equal(
      registry.counter("rest_client_requests_total", "", ["code", "method", "host"]).get({
        code: "500",
        method: "GET",
        host: "fake.test:6443",
      }),
      1,
    );
  });

  it("honours Retry-After on 429 for a write (the server did not process it) and does not retry a 500 write", async () => {
    waits.length = 0;
    const t = new FakeTransport((_r, i) =>
      i === 0 ? new Response("", { status: 429, headers: { "retry-after": "2" } }) : json(201, {})
    );
    const c = new KubeClient(t, { sleep: recordSleep, registry: new Registry() });
    await c.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "n" } });
    assert.equal(t.requests.length, 2);
    assert.ok(waits[0] >= 2000, `waited ${waits[0]} ms`);

    const t2 = new FakeTransport(() => status(500, "InternalError"));
    const c2 = new KubeClient(t2, { sleep: noSleep, registry: new Registry() });
    await assert.rejects(
      c2.create(builtin.ConfigMap, { metadata: { name: "x", namespace: "n" } }),
      /InternalError/,
    );
    assert.equal(t2.requests.length, 1);
  });

  it("gives up after maxRetries with the typed error", async () => {
    const t = new FakeTransport(() => new Response("", { status: 429 }));
    const c = new KubeClient(t, { sleep: noSleep, retry: { maxRetries: 3 }, registry: new Registry() });
    await assert.rejects(c.list(builtin.Pod), TooManyRequestsError);
    assert.equal(t.requests.length, 4);
  });

  it("does not retry 404 or 409", async () => {
    const t = new FakeTransport((
      r,
    ) => (r.method === "GET" ? status(404, "NotFound") : status(409, "Conflict")));
    const c = new KubeClient(t, { sleep: noSleep, registry: new Registry() });
    await assert.rejects(c.get(builtin.ConfigMap, "x", { namespace: "n" }), NotFoundError);
    await assert.rejects(
      c.replace(builtin.ConfigMap, { metadata: { name: "x", namespace: "n" } }),
      ConflictError,
    );
    assert.equal(t.requests.length, 2);
  });
});

describe("KubeClient.listAll", () => {
  it("follows continue tokens and takes the resourceVersion of the first page", async () => {
    const t = new FakeTransport((r) => {
      const cont = new URLSearchParams(r.url.split("?")[1]).get("continue");
      if (!cont) return json(200, { metadata: { resourceVersion: "10", continue: "p2" }, items: [{ n: 1 }] });
      return json(200, { metadata: { resourceVersion: "10" }, items: [{ n: 2 }] });
    });
    const c = new KubeClient(t, { sleep: noSleep, registry: new Registry() });
    const all = await c.listAll(builtin.ConfigMap, { limit: 1 });
    assert.equal(all.items.length, 2);
    assert.equal(all.metadata.resourceVersion, "10");
  });

  it("restarts the whole list when a continue token expires, never mixing snapshots", async () => {
    let calls = 0;
    const t = new FakeTransport((r) => {
      calls++;
      const cont = new URLSearchParams(r.url.split("?")[1]).get("continue");
      if (calls === 1) {
        return json(200, { metadata: { resourceVersion: "10", continue: "old" }, items: [{ n: "stale" }] });
      }
      if (cont === "old") return status(410, "Expired", "continue token expired");
      if (!cont) return json(200, { metadata: { resourceVersion: "20" }, items: [{ n: "fresh" }] });
      throw new Error("unexpected");
    });
    const c = new KubeClient(t, { sleep: noSleep, registry: new Registry() });
    const all = await c.listAll<{ n: string }>(builtin.ConfigMap);
    assert.deepEqual(all.items.map((i) => i.n), ["fresh"]);
    assert.equal(all.metadata.resourceVersion, "20");
  });

  it("surfaces a 410 on the first page as GoneError", async () => {
    const t = new FakeTransport(() => status(410, "Expired"));
    const c = new KubeClient(t, { sleep: noSleep, registry: new Registry() });
    await assert.rejects(
      c.listAll(builtin.ConfigMap, { resourceVersion: "1", resourceVersionMatch: "Exact" }),
      GoneError,
    );
  });
});
