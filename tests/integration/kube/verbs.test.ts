/**
 * REST verbs, server-side apply, the status subresource, watch and typed errors against the real
 * API server.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  GoneError,
  InvalidError,
  NotFoundError,
} from "../../../lib/kube/errors.ts";
import { builtin, discoverResource, resourceType } from "../../../lib/kube/resources.ts";
import type { KubeClient, KubeObject } from "../../../lib/kube/client.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";

let cp: ControlPlane;
let client: KubeClient;
let ns: string;
const widget = resourceType("test.dataflow.io/v1", "Widget", "widgets");

const CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.test.dataflow.io" },
  spec: {
    group: "test.dataflow.io",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      subresources: { status: {} },
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: {
              type: "object",
              properties: { size: { type: "integer", minimum: 1 }, color: { type: "string" } },
            },
            status: { type: "object", properties: { phase: { type: "string" } } },
          },
        },
      },
    }],
  },
};

function deployment(name: string): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox:1", env: [{ name: "A", value: "1" }] }] },
      },
    },
  };
}

before(async () => {
  cp = await testControlPlane();
  client = clientFor(cp);
  ns = await freshNamespace(cp, "verbs");
  await client.apply(builtin.CustomResourceDefinition, CRD, { fieldManager: "tests", force: true });
  await cp.kubectlOk([
    "wait",
    "--for=condition=Established",
    "crd/widgets.test.dataflow.io",
    "--timeout=30s",
  ]);
});
after(() => client.transport.close());

describe("create, get, replace, delete", () => {
  it("round-trips a ConfigMap and types NotFound, AlreadyExists and Conflict", async () => {
    const created = await client.create<ConfigMap>(builtin.ConfigMap, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "one", namespace: ns },
      data: { a: "1" },
    });
    assert.ok(created.metadata?.uid);
    const got = await client.get<ConfigMap>(builtin.ConfigMap, "one", { namespace: ns });
    assert.equal(got.data?.a, "1");
    await assert.rejects(
      client.create(builtin.ConfigMap, { metadata: { name: "one", namespace: ns } }),
      AlreadyExistsError,
    );
    await assert.rejects(client.get(builtin.ConfigMap, "missing", { namespace: ns }), NotFoundError);

    const updated = await client.replace<ConfigMap>(builtin.ConfigMap, { ...got, data: { a: "2" } });
    assert.equal(updated.data?.a, "2");
    // The same stale resourceVersion again: optimistic concurrency says Conflict.
    await assert.rejects(client.replace(builtin.ConfigMap, { ...got, data: { a: "3" } }), (e: Error) => {
      assert.ok(e instanceof ConflictError);
      assert.equal((e as ConflictError).code, 409);
      return true;
    });
  });

  it("delete honours uid preconditions and propagation policy", async () => {
    const cm = await client.create<ConfigMap>(builtin.ConfigMap, {
      metadata: { name: "del", namespace: ns },
    });
    await assert.rejects(
      client.delete(builtin.ConfigMap, "del", {
        namespace: ns,
        preconditions: { uid: "00000000-0000-0000-0000-000000000000" },
      }),
      ConflictError,
    );
    await client.delete(builtin.ConfigMap, "del", {
      namespace: ns,
      preconditions: { uid: cm.metadata!.uid, resourceVersion: cm.metadata!.resourceVersion },
      propagationPolicy: "Background",
    });
    await assert.rejects(client.get(builtin.ConfigMap, "del", { namespace: ns }), NotFoundError);
  });

  it("types a validation failure as Invalid with the field named", async () => {
    await assert.rejects(
      client.create(widget, {
        apiVersion: "test.dataflow.io/v1",
        kind: "Widget",
        metadata: { name: "w0", namespace: ns },
        spec: { size: 0 },
      }),
      (e: Error) => {
        assert.ok(e instanceof InvalidError);
        assert.ok(
          (e as InvalidError).causes.some((c) => c.field === "spec.size"),
          JSON.stringify((e as InvalidError).causes),
        );
        return true;
      },
    );
  });
});

describe("list", () => {
  it("pages with limit and continue, and listAll gathers every page at one resourceVersion", async () => {
    for (let i = 0; i < 7; i++) {
      await client.create(builtin.ConfigMap, {
        metadata: { name: `page-${i}`, namespace: ns, labels: { paged: "yes" } },
      });
    }
    const first = await client.list(builtin.ConfigMap, {
      namespace: ns,
      labelSelector: "paged=yes",
      limit: 3,
    });
    assert.equal(first.items.length, 3);
    assert.ok(first.metadata.continue);
    const all = await client.listAll(builtin.ConfigMap, {
      namespace: ns,
      labelSelector: "paged=yes",
      limit: 2,
    });
    assert.equal(all.items.length, 7);
    assert.ok(all.metadata.resourceVersion);
  });

  it("returns metadata only when asked", async () => {
    const list = await client.list<KubeObject>(builtin.ConfigMap, {
      namespace: ns,
      metadataOnly: true,
      labelSelector: "paged=yes",
    });
    assert.equal(list.kind, "PartialObjectMetadataList");
    assert.equal(list.items[0].kind, "PartialObjectMetadata");
    assert.equal((list.items[0] as { data?: unknown }).data, undefined);
  });

  it("finds a custom resource's path through discovery", async () => {
    const rt = await discoverResource((p) => client.getRaw(p), "test.dataflow.io/v1", "Widget");
    assert.deepEqual({ ...rt }, {
      apiVersion: "test.dataflow.io/v1",
      kind: "Widget",
      plural: "widgets",
      namespaced: true,
    });
  });
});

describe("patch and server-side apply", () => {
  it("applies merge, JSON (with a failing test op) and strategic merge patches", async () => {
    await client.create(builtin.Deployment, deployment("patched"));
    await client.patch(builtin.Deployment, "patched", { metadata: { labels: { merged: "yes" } } }, {
      namespace: ns,
    });
    await client.patch(builtin.Deployment, "patched", [{ op: "replace", path: "/spec/replicas", value: 3 }], {
      namespace: ns,
      type: "json",
    });
    await assert.rejects(
      client.patch(builtin.Deployment, "patched", [{ op: "test", path: "/spec/replicas", value: 9 }], {
        namespace: ns,
        type: "json",
      }),
      (e: Error) => e instanceof InvalidError || (e as { code?: number }).code === 422,
    );
    // Strategic merge adds a container by name instead of replacing the list.
    await client.patch(
      builtin.Deployment,
      "patched",
      { spec: { template: { spec: { containers: [{ name: "sidecar", image: "busybox:1" }] } } } },
      { namespace: ns, type: "strategic" },
    );
    const d = await client.get<Deployment>(builtin.Deployment, "patched", { namespace: ns });
    assert.equal(d.metadata?.labels?.merged, "yes");
    assert.equal(d.spec?.replicas, 3);
    assert.deepEqual(d.spec?.template.spec?.containers.map((c) => c.name).sort(), ["c", "sidecar"]);
  });

  it("reports a field conflict between managers as 409, and force takes the field over", async () => {
    const body = (color: string) => ({
      apiVersion: "test.dataflow.io/v1",
      kind: "Widget",
      metadata: { name: "ssa", namespace: ns },
      spec: { color },
    });
    await client.apply(widget, body("red"), { fieldManager: "alice" });
    await assert.rejects(client.apply(widget, body("blue"), { fieldManager: "bob" }), (e: Error) => {
      assert.ok(e instanceof ConflictError);
      assert.match(e.message, /conflict/i);
      return true;
    });
    const forced = await client.apply<KubeObject>(widget, body("blue"), { fieldManager: "bob", force: true });
    assert.equal((forced.spec as { color: string }).color, "blue");
    const managers = forced.metadata?.managedFields?.map((m) => m.manager) ?? [];
    assert.ok(managers.includes("bob"));
  });
});

describe("status subresource", () => {
  it("writes status only through /status, and the main resource ignores status", async () => {
    const w = await client.create<KubeObject>(widget, {
      apiVersion: "test.dataflow.io/v1",
      kind: "Widget",
      metadata: { name: "st", namespace: ns },
      spec: { size: 2 },
      status: { phase: "ignored" },
    });
    assert.equal(w.status, undefined);
    const withStatus = await client.replaceStatus<KubeObject>(widget, {
      ...w,
      status: { phase: "Running" },
      spec: { size: 99 },
    });
    assert.deepEqual(withStatus.status, { phase: "Running" });
    assert.deepEqual(withStatus.spec, { size: 2 });
    const patched = await client.patch<KubeObject>(widget, "st", { status: { phase: "Error" } }, {
      namespace: ns,
      subresource: "status",
    });
    assert.deepEqual(patched.status, { phase: "Error" });
    assert.equal(patched.metadata?.generation, w.metadata?.generation);
  });
});

describe("watch", () => {
  it("watches from a list's resourceVersion and sees later changes in order", async () => {
    const list = await client.list(builtin.ConfigMap, { namespace: ns });
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (
        const ev of client.watch<ConfigMap>(builtin.ConfigMap, {
          namespace: ns,
          resourceVersion: list.metadata.resourceVersion,
          signal: ac.signal,
        })
      ) {
        if (ev.type === "BOOKMARK" || ev.type === "ERROR") continue;
        seen.push(`${ev.type} ${ev.object.metadata?.name}`);
        if (seen.length === 3) ac.abort();
      }
    })().catch((e) => {
      if (!ac.signal.aborted) throw e;
    });
    await client.create(builtin.ConfigMap, { metadata: { name: "w1", namespace: ns } });
    await client.patch(builtin.ConfigMap, "w1", { data: { x: "1" } }, { namespace: ns });
    await client.delete(builtin.ConfigMap, "w1", { namespace: ns });
    await watching;
    assert.deepEqual(seen, ["ADDED w1", "MODIFIED w1", "DELETED w1"]);
  });

  it("delivers a BOOKMARK from the server (initial-events-end of a streaming list)", async () => {
    const ac = new AbortController();
    let bookmark: KubeObject | undefined;
    let added = 0;
    try {
      for await (
        const ev of client.watch<KubeObject>(builtin.ConfigMap, {
          namespace: ns,
          sendInitialEvents: true,
          resourceVersionMatch: "NotOlderThan",
          allowWatchBookmarks: true,
          signal: ac.signal,
        })
      ) {
        if (ev.type === "ADDED") added++;
        if (ev.type === "BOOKMARK") {
          bookmark = ev.object;
          ac.abort();
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    }
    assert.ok(added >= 7, `initial events: ${added}`);
    assert.equal(bookmark?.metadata?.annotations?.["k8s.io/initial-events-end"], "true");
    assert.ok(bookmark?.metadata?.resourceVersion);
  });

  it("surfaces a too-old resourceVersion as a typed 410", async () => {
    // The API server's watch cache answers an old version of a cached kind with the current state, so
    // this uses core Events, which kube-apiserver never caches: their watches read etcd, which after a
    // compaction (the API server runs one every 5 minutes; here forced) no longer has version 1.
    await cp.compactEtcd();
    const oldRv = "1";
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error("no 410 within 20 s")), 20_000);
    let error: unknown;
    try {
      for await (
        const ev of client.watch(builtin.Event, { namespace: ns, resourceVersion: oldRv, signal: ac.signal })
      ) {
        if (ev.type === "ERROR") {
          error = ev.error;
          break;
        }
      }
    } catch (e) {
      error = e;
    } finally {
      clearTimeout(timer);
    }
    assert.ok(error instanceof GoneError, `got ${error}`);
    assert.equal((error as GoneError).code, 410);
  });
});

describe("RBAC", () => {
  it("a restricted identity gets a typed Forbidden naming the resource", async () => {
    const alice = await cp.mintUser("alice-restricted", ["dev"]);
    const restricted = clientFor(cp, alice);
    await assert.rejects(restricted.list(builtin.Secret, { namespace: ns }), (e: Error) => {
      assert.ok(e instanceof ForbiddenError);
      assert.match(e.message, /secrets is forbidden: User "alice-restricted" cannot list resource "secrets"/);
      return true;
    });
    restricted.transport.close();
  });
});
