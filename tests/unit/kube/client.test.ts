import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import { builtin, resourceType } from "../../../lib/kube/resources.ts";
import { GoneError, NamespaceRequiredError } from "../../../lib/kube/errors.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeTransport, json, status } from "./fake-transport.ts";

const noSleep = () => Promise.resolve();
const df = resourceType("dataflow.dataflow.io/v1", "DataFlow", "dataflows");
const client = (t: FakeTransport, namespace?: string) =>
  new KubeClient(t, { namespace, sleep: noSleep, registry: new Registry() });

describe("KubeClient paths and verbs", () => {
  it("builds namespaced, cluster-scoped and custom resource paths", async () => {
    const t = new FakeTransport(() => json(200, { items: [], metadata: {} }));
    const c = client(t);
    await c.get(builtin.ConfigMap, "cm", { namespace: "team" });
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
    const c = client(t);
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
    await assert.rejects(
      c.patch(df, "x", {}, { namespace: "n", type: "strategic" }),
      /not supported for DataFlow/,
    );
    assert.equal(t.requests.length, 3);
  });

  it("delete sends preconditions and propagation policy", async () => {
    const t = new FakeTransport(() => json(200, { kind: "Status", status: "Success" }));
    const c = client(t);
    await c.delete(builtin.ConfigMap, "cm", {
      namespace: "n",
      preconditions: { uid: "u1", resourceVersion: "5" },
      propagationPolicy: "Foreground",
    });
    const body = JSON.parse(t.requests[0].body!);
    assert.deepEqual(body.preconditions, { uid: "u1", resourceVersion: "5" });
    assert.equal(body.propagationPolicy, "Foreground");
  });

  it("an empty body (204, or a 200 with nothing) reads as undefined", async () => {
    const t = new FakeTransport((_r, i) =>
      new Response(i === 0 ? null : "", { status: i === 0 ? 204 : 200 })
    );
    const c = client(t);
    assert.equal(await c.delete(builtin.ConfigMap, "a", { namespace: "n" }), undefined);
    assert.equal(await c.getRaw("/healthz"), undefined);
  });
});

describe("KubeClient scope: one rule for every verb", () => {
  it("refuses a namespaced call by name without a namespace, naming verb and resource, before sending", async () => {
    const t = new FakeTransport(() => json(200, {}));
    // The context's namespace is known to the client but never applied implicitly.
    const c = client(t, "team");
    assert.equal(c.namespace, "team");
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => c.get(builtin.ConfigMap, "cm")],
      ["create", () => c.create(builtin.ConfigMap, { metadata: { name: "cm" } })],
      ["replace", () => c.replace(builtin.ConfigMap, { metadata: { name: "cm" } })],
      ["replace", () => c.replaceStatus(df, { metadata: { name: "x" } })],
      ["patch", () => c.patch(builtin.ConfigMap, "cm", {})],
      ["apply", () => c.apply(builtin.ConfigMap, { metadata: { name: "cm" } }, { fieldManager: "m" })],
      ["delete", () => c.delete(builtin.ConfigMap, "cm")],
    ];
    for (const [verb, call] of calls) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof NamespaceRequiredError, String(err));
        assert.equal(err.verb, verb);
        assert.match(
          err.message,
          new RegExp(`^${verb} (ConfigMap "cm"|DataFlow "x"): (configmaps|dataflows) are namespaced`),
        );
        // A usage error: a controller reports it as a bug instead of retrying it.
        assert.ok(err instanceof TypeError);
        return true;
      });
    }
    assert.equal(t.requests.length, 0, "nothing was sent");
  });

  it("takes the namespace from the option, else from metadata.namespace for the verbs that carry an object", async () => {
    const t = new FakeTransport(() => json(200, {}));
    const c = client(t);
    await c.create(builtin.ConfigMap, { metadata: { name: "a", namespace: "from-object" } });
    await c.create(builtin.ConfigMap, { metadata: { name: "a", namespace: "from-object" } }, {
      namespace: "opt",
    });
    await c.replace(builtin.ConfigMap, { metadata: { name: "a", namespace: "from-object" } });
    await c.apply(builtin.ConfigMap, { metadata: { name: "a", namespace: "from-object" } }, {
      fieldManager: "m",
    });
    assert.deepEqual(t.requests.map((r) => `${r.method} ${r.path}`), [
      "POST /api/v1/namespaces/from-object/configmaps",
      "POST /api/v1/namespaces/opt/configmaps",
      "PUT /api/v1/namespaces/from-object/configmaps/a",
      "PATCH /api/v1/namespaces/from-object/configmaps/a",
    ]);
  });

  it("list, listAll and watch without a namespace cover every namespace; cluster-scoped kinds ignore one", async () => {
    const t = new FakeTransport((r) =>
      r.query?.get("watch") ? new Response("", { status: 200 }) : json(200, { metadata: {}, items: [] })
    );
    const c = client(t, "team");
    await c.list(builtin.ConfigMap);
    await c.listAll(builtin.Secret);
    for await (const _ of c.watch(builtin.Pod)) { /* the fake closes the stream at once */ }
    await c.get(builtin.Namespace, "kube-system", { namespace: "ignored" });
    await c.create(builtin.Namespace, { metadata: { name: "new" } });
    assert.deepEqual(t.requests.map((r) => r.path), [
      "/api/v1/configmaps",
      "/api/v1/secrets",
      "/api/v1/pods",
      "/api/v1/namespaces/kube-system",
      "/api/v1/namespaces",
    ]);
  });
});

describe("KubeClient.listAll", () => {
  it("follows continue tokens and takes the resourceVersion of the first page", async () => {
    const t = new FakeTransport((r) => {
      const cont = new URLSearchParams(r.url.split("?")[1]).get("continue");
      if (!cont) return json(200, { metadata: { resourceVersion: "10", continue: "p2" }, items: [{ n: 1 }] });
      return json(200, { metadata: { resourceVersion: "10" }, items: [{ n: 2 }] });
    });
    const all = await client(t).listAll(builtin.ConfigMap, { limit: 1 });
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
    const all = await client(t).listAll<{ n: string }>(builtin.ConfigMap);
    assert.deepEqual(all.items.map((i) => i.n), ["fresh"]);
    assert.equal(all.metadata.resourceVersion, "20");
  });

  it("surfaces a 410 on the first page as GoneError", async () => {
    const t = new FakeTransport(() => status(410, "Expired"));
    await assert.rejects(
      client(t).listAll(builtin.ConfigMap, { resourceVersion: "1", resourceVersionMatch: "Exact" }),
      GoneError,
    );
  });
});
