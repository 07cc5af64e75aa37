/**
 * The unit tests' in-memory API server (tests/tools/fake-apiserver.ts) keeps the rules the
 * integration tests establish against a real kube-apiserver: checked here through a KubeClient,
 * so a unit test that relies on one of them relies on something true.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { AlreadyExistsError, ConflictError, InvalidError, NotFoundError } from "../../../lib/kube/errors.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeApiServer } from "../../tools/fake-apiserver.ts";

const CM = "v1/configmaps";
const noRetry = { retry: { maxRetries: 0 }, registry: new Registry() };

describe("FakeApiServer: the API server's rules", () => {
  const DEP = "apps/v1/deployments";
  const deployment = (name: string) => ({
    metadata: { name, namespace: "ns", labels: { app: name, tier: "web" } },
    spec: { replicas: 1 },
  });

  it("gives every write a resourceVersion, refuses a stale one, and answers 404 and AlreadyExists", async () => {
    const c = new KubeClient(new FakeApiServer(), noRetry);
    const a = await c.create<KubeObject>(builtin.ConfigMap, {
      metadata: { name: "a", namespace: "ns" },
      data: { k: "1" },
    });
    await assert.rejects(
      c.create(builtin.ConfigMap, { metadata: { name: "a", namespace: "ns" } }),
      AlreadyExistsError,
    );
    const b: KubeObject = await c.replace(builtin.ConfigMap, { ...a, data: { k: "2" } });
    assert.ok(Number(b.metadata!.resourceVersion) > Number(a.metadata!.resourceVersion));
    await assert.rejects(c.replace(builtin.ConfigMap, { ...a, data: { k: "3" } }), ConflictError);
    await assert.rejects(
      c.patch(builtin.ConfigMap, "a", {
        metadata: { resourceVersion: a.metadata!.resourceVersion },
        data: { k: "4" },
      }, {
        namespace: "ns",
      }),
      ConflictError,
    );
    const same = await c.replace(builtin.ConfigMap, b);
    assert.equal(same.metadata!.resourceVersion, b.metadata!.resourceVersion, "a write that changes nothing");
    await assert.rejects(c.get(builtin.ConfigMap, "missing", { namespace: "ns" }), NotFoundError);
    await assert.rejects(c.delete(builtin.ConfigMap, "missing", { namespace: "ns" }), NotFoundError);
  });

  it("bumps generation on spec changes only, and takes status only through the status subresource", async () => {
    const api = new FakeApiServer();
    const c = new KubeClient(api, noRetry);
    const d: KubeObject = await c.create(builtin.Deployment, {
      ...deployment("web"),
      status: { replicas: 9 },
    });
    assert.equal(d.metadata!.generation, 1);
    assert.equal(d.status, undefined, "status is ignored on create");
    const labelled = await c.patch(builtin.Deployment, "web", { metadata: { labels: { x: "y" } } }, {
      namespace: "ns",
    });
    assert.equal(labelled.metadata!.generation, 1);
    const status = await c.patch(builtin.Deployment, "web", { status: { replicas: 1 } }, {
      namespace: "ns",
      subresource: "status",
    });
    assert.equal(status.metadata!.generation, 1);
    assert.deepEqual(status.status, { replicas: 1 });
    const scaled = await c.patch(builtin.Deployment, "web", {
      spec: { replicas: 2 },
      status: { replicas: 7 },
    }, {
      namespace: "ns",
    });
    assert.equal(scaled.metadata!.generation, 2);
    assert.deepEqual(scaled.status, { replicas: 1 }, "status is ignored on the main resource");
    await assert.rejects(
      c.patch(builtin.ConfigMap, "none", { status: {} }, { namespace: "ns", subresource: "status" }),
      NotFoundError,
    );
  });

  it("marks an object with finalizers on delete and deletes it when the last finalizer goes", async () => {
    const api = new FakeApiServer();
    const c = new KubeClient(api, noRetry);
    await c.create(builtin.ConfigMap, {
      metadata: { name: "f", namespace: "ns", finalizers: ["example.com/a"] },
    });
    await c.delete(builtin.ConfigMap, "f", { namespace: "ns" });
    const marked = await c.get(builtin.ConfigMap, "f", { namespace: "ns" });
    assert.ok(marked.metadata!.deletionTimestamp);
    await assert.rejects(
      c.patch(builtin.ConfigMap, "f", { metadata: { finalizers: ["example.com/a", "example.com/b"] } }, {
        namespace: "ns",
      }),
      InvalidError,
    );
    await c.patch(builtin.ConfigMap, "f", { metadata: { finalizers: null } }, { namespace: "ns" });
    assert.equal(api.object(CM, "ns", "f"), undefined);
  });

  it("scopes lists to a namespace and filters them by label and field selectors", async () => {
    const api = new FakeApiServer();
    for (const name of ["web", "api"]) api.put(DEP, deployment(name));
    api.put(DEP, {
      ...deployment("other"),
      metadata: { name: "other", namespace: "ns2", labels: { app: "web" } },
    });
    const c = new KubeClient(api, noRetry);
    const names = async (opts: Record<string, string | undefined>) =>
      (await c.list(builtin.Deployment, opts)).items.map((d) => d.metadata!.name).sort();
    assert.deepEqual(await names({ namespace: "ns" }), ["api", "web"]);
    assert.deepEqual(await names({ labelSelector: "app=web" }), ["other", "web"]);
    assert.deepEqual(await names({ labelSelector: "tier,app notin (api)" }), ["web"]);
    assert.deepEqual(await names({ labelSelector: "!tier" }), ["other"]);
    assert.deepEqual(await names({ fieldSelector: "metadata.name=api" }), ["api"]);
  });

  it("checks Events as the server does, and serves them through events.k8s.io/v1 too", async () => {
    const c = new KubeClient(new FakeApiServer(), noRetry);
    const event = (over: Record<string, unknown>) => ({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `e-${Math.random().toString(36).slice(2)}`, namespace: "ns" },
      involvedObject: { apiVersion: "v1", kind: "Pod", name: "p", namespace: "ns" },
      reason: "Checked",
      message: "m",
      type: "Normal",
      eventTime: "2026-01-01T00:00:00.000000Z",
      reportingComponent: "tools-test",
      reportingInstance: "i",
      action: "Check",
      ...over,
    });
    await assert.rejects(c.create(builtin.Event, event({ message: "€".repeat(342) })), InvalidError);
    await c.create(builtin.Event, event({ message: "€".repeat(341) + "a" }));
    await c.create(builtin.Event, event({ type: "Error" }));
    await assert.rejects(c.create(builtin.Event, event({ reason: "" })), InvalidError);
    const { eventTime: _t, ...lenient } = event({ message: "x".repeat(5000), reason: "" });
    await c.create(builtin.Event, lenient);
    const cluster = { apiVersion: "v1", kind: "Namespace", name: "ns" };
    await assert.rejects(c.create(builtin.Event, event({ involvedObject: cluster })), InvalidError);
    const created: KubeObject = await c.create(builtin.Event, event({ count: 1 }));
    const patched = await c.patch<{ count: number }>(builtin.Event, created.metadata!.name!, { count: 7 }, {
      namespace: "ns",
    });
    assert.equal(patched.count, 7);
    const v1 = await c.get<{ note: string; deprecatedCount: number }>(
      builtin.EventsV1,
      created.metadata!.name!,
      {
        namespace: "ns",
      },
    );
    assert.deepEqual([v1.note, v1.deprecatedCount], ["m", 7]);
    await assert.rejects(
      c.create(builtin.EventsV1, { ...lenient, apiVersion: "events.k8s.io/v1" }),
      InvalidError,
    );
  });

  it("with namespaces: existing, refuses creates in a missing namespace (404) and a terminating one (403)", async () => {
    const api = new FakeApiServer({ namespaces: "existing" });
    const c = new KubeClient(api, noRetry);
    const cm = (namespace: string) => ({ metadata: { name: "x", namespace } });
    await assert.rejects(c.create(builtin.ConfigMap, cm("ns")), NotFoundError);
    api.put("v1/namespaces", { metadata: { name: "ns", finalizers: ["kubernetes"] } });
    await c.create(builtin.ConfigMap, cm("ns"));
    await c.delete(builtin.Namespace, "ns");
    await assert.rejects(
      c.create(builtin.ConfigMap, { metadata: { name: "y", namespace: "ns" } }),
      (e: Error & { code?: number }) => e.code === 403 && /being terminated/.test(e.message),
    );
  });

  it("starts a watch without a resourceVersion with the current objects, then sends changes", async () => {
    const api = new FakeApiServer();
    api.put(CM, { metadata: { name: "before", namespace: "ns" } });
    const c = new KubeClient(api, noRetry);
    const ac = new AbortController();
    const w = c.watch(builtin.ConfigMap, { namespace: "ns", signal: ac.signal, idleTimeoutMs: 0 });
    const first = await w.next();
    api.put(CM, { metadata: { name: "after", namespace: "ns" } });
    const second = await w.next();
    ac.abort();
    const seen = [first, second].map((r) => {
      const ev = r.value as { type: string; object: KubeObject };
      return `${ev.type} ${ev.object.metadata!.name}`;
    });
    assert.deepEqual(seen, ["ADDED before", "ADDED after"]);
  });
});
