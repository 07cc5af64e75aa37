/**
 * The reconciler's decisions against an in-memory API server: which writes happen, which events
 * are emitted (exact reasons and messages), which status results, and that an unchanged DataFlow
 * causes no write and no event.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Deployment } from "kubernetes-types/apps/v1";
import { builtin } from "../../../lib/kube/resources.ts";
import { CONFIG_HASH_ANNOTATION, DataFlowType, FINALIZER } from "../../../lib/dataflow/names.ts";
import { secretWithKeys } from "./fakes.ts";
import { NS, sample, setup } from "./reconciler-setup.ts";

describe("reconciler: create, idle, ready, update", () => {
  it("creates the ConfigMap and Deployment once, adds the finalizer, reports Pending", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    assert.deepEqual(t.events.calls.map((c) => [c.type, c.reason, c.message]), [
      ["Normal", "ConfigMapCreated", "Created ConfigMap dataflow-orders-spec"],
      ["Normal", "DeploymentCreated", "Created Deployment dataflow-orders"],
    ]);
    assert.deepEqual(t.df().metadata.finalizers, [FINALIZER]);
    assert.equal(t.df().status?.phase, "Pending");
    assert.equal(t.df().status?.message, "Processor pod is starting");
    assert.equal(t.df().status?.observedGeneration, 1);
    assert.equal(t.df().status?.conditions?.[0].type, "Ready");
    assert.equal(t.df().status?.conditions?.[0].status, "False");
    assert.ok(t.cm());
    assert.equal(t.dep()!.spec!.template.spec!.containers[0].name, "processor");
    assert.match(
      t.registry.render(),
      /dataflow_status\{namespace="team-a",name="orders",phase="Pending"\} 1/,
    );
  });

  it("makes no write and emits no event when nothing changed", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    const writes = t.kube.writes.length, events = t.events.calls.length;
    await t.run();
    await t.run();
    assert.equal(t.kube.writes.length, writes, JSON.stringify(t.kube.writes.slice(writes)));
    assert.equal(t.events.calls.length, events);
  });

  it("tolerates API defaulting and quantity normalisation without updating", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample("orders", { resources: { limits: { cpu: "0.5" } } }));
    await t.run();
    // What the API server does to a stored Deployment: defaults, normalised quantities.
    t.kube.edit<Deployment>(builtin.Deployment, NS, "dataflow-orders", (d) => {
      const pod = d.spec!.template.spec!;
      pod.restartPolicy = "Always";
      pod.dnsPolicy = "ClusterFirst";
      pod.containers[0].imagePullPolicy = "IfNotPresent";
      pod.containers[0].terminationMessagePath = "/dev/termination-log";
      pod.containers[0].resources = { limits: { cpu: "500m" } };
      pod.initContainers![0].imagePullPolicy = "IfNotPresent";
      pod.initContainers![0].terminationMessagePolicy = "File";
      pod.volumes![0].configMap!.defaultMode = 420;
      d.spec!.revisionHistoryLimit = 10;
    });
    const writes = t.kube.writes.length;
    await t.run();
    assert.equal(t.kube.writes.length, writes);
    assert.deepEqual(t.events.reasons(), ["ConfigMapCreated", "DeploymentCreated"]);
  });

  it("reports Running once the Deployment has a ready replica, with one status write and no event", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    t.kube.setDeploymentStatus(NS, "dataflow-orders", { replicas: 1, readyReplicas: 1 });
    const writes = t.kube.writes.length;
    await t.run();
    assert.equal(t.df().status?.phase, "Running");
    assert.equal(t.df().status?.message, "Processor pod is running");
    assert.equal(t.df().status?.conditions?.[0].status, "True");
    assert.deepEqual(t.kube.writes.slice(writes).map((w) => `${w.verb} ${w.kind} ${w.subresource ?? ""}`), [
      "patch DataFlow status",
    ]);
    assert.equal(t.events.calls.length, 2);
    const metrics = t.registry.render();
    assert.match(metrics, /phase="Running"\} 1/);
    assert.doesNotMatch(metrics, /phase="Pending"/);
  });

  it("a spec change updates each object once, with a new pod-template hash", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    const hash1 = t.dep()!.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    const cur = t.df();
    cur.spec.source = { type: "kafka", kafka: { brokers: ["kafka:9092"], topic: "orders-v2" } };
    t.kube.seed(DataFlowType, cur); // an edit by the user
    await t.run();
    await t.run();
    assert.deepEqual(t.events.reasons(), [
      "ConfigMapCreated",
      "DeploymentCreated",
      "ConfigMapUpdated",
      "DeploymentUpdated",
    ]);
    assert.equal(t.events.calls[3].message, "Updated Deployment dataflow-orders");
    const hash2 = t.dep()!.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    assert.notEqual(hash1, hash2);
    assert.match(t.cm()!.data!["spec.json"], /orders-v2/);
    assert.equal(t.df().status?.observedGeneration, 2);
  });

  it("rolls the processor when a referenced Secret changes, leaving the ConfigMap alone", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    const hash1 = t.dep()!.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    // A new value under the same key: a new resourceVersion (a write that changes nothing gets none).
    t.kube.seed(builtin.Secret, {
      ...secretWithKeys(NS, "pg", ["dsn"]),
      data: { dsn: btoa("postgres://new") },
    });
    await t.run();
    assert.deepEqual(t.events.reasons(), ["ConfigMapCreated", "DeploymentCreated", "DeploymentUpdated"]);
    assert.notEqual(t.dep()!.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION], hash1);
  });

  it("keeps a manual scale and a rollout-restart annotation", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    t.kube.edit<Deployment>(builtin.Deployment, NS, "dataflow-orders", (d) => {
      d.spec!.replicas = 0;
      d.spec!.template.metadata!.annotations!["kubectl.kubernetes.io/restartedAt"] = "2026-01-01T00:00:00Z";
    });
    const writes = t.kube.writes.length;
    await t.run();
    assert.equal(t.kube.writes.length, writes);
    const cur = t.df();
    cur.spec.nodeSelector = { "topology.kubernetes.io/zone": "zone-a" };
    t.kube.seed(DataFlowType, cur); // an edit by the user
    await t.run();
    assert.equal(t.dep()!.spec!.replicas, 0);
    assert.equal(
      t.dep()!.spec!.template.metadata!.annotations!["kubectl.kubernetes.io/restartedAt"],
      "2026-01-01T00:00:00Z",
    );
    assert.deepEqual(t.dep()!.spec!.template.spec!.nodeSelector, { "topology.kubernetes.io/zone": "zone-a" });
  });

  it("removes placement dropped from the spec", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample("orders", { tolerations: [{ key: "k", operator: "Exists" }] }));
    await t.run();
    const cur = t.df();
    delete cur.spec.tolerations;
    t.kube.seed(DataFlowType, cur); // an edit by the user
    await t.run();
    assert.equal(t.dep()!.spec!.template.spec!.tolerations, undefined);
    assert.equal(t.events.reasons().filter((r) => r === "DeploymentUpdated").length, 1);
  });
});

describe("reconciler: a cache that lags behind the operator's own writes", () => {
  it("acts on the object its own writes returned, so a second reconcile writes nothing", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    const stale = structuredClone(t.df()); // what the cache holds until the watch delivers the writes
    const live = t.cache.dataflow;
    t.cache.dataflow = (ns, name) => (name === "orders" ? structuredClone(stale) : live(ns, name));
    await t.run();
    const afterFirst = t.kube.writes.length;
    assert.ok(t.kube.writes.some((w) => w.kind === "DataFlow" && w.subresource === "status"));
    await t.run(); // the cache still shows the version before the finalizer and status writes
    assert.deepEqual(t.kube.writes.slice(afterFirst), [], "no second finalizer or status patch");
    assert.equal(t.events.calls.length, 2, "no new event");
    t.cache.dataflow = live; // the cache caught up: it is read again
    await t.run();
    assert.deepEqual(t.kube.writes.slice(afterFirst), []);
  });
});

describe("reconciler: secrets", () => {
  it("a missing Secret gives SecretResolutionFailed once, phase Error, and heals when it appears", async () => {
    const t = setup({ secrets: false });
    t.kube.seed(DataFlowType, sample());
    await t.run();
    await t.run();
    const expected =
      "Failed to resolve secrets: spec.sink.postgresql.connectionStringSecretRef: Secret team-a/pg not found";
    assert.deepEqual(t.events.calls.map((c) => [c.type, c.reason, c.message]), [[
      "Warning",
      "SecretResolutionFailed",
      expected,
    ]]);
    assert.equal(t.df().status?.phase, "Error");
    assert.equal(t.df().status?.message, expected);
    assert.equal(t.cm(), undefined);
    assert.match(t.registry.render(), /phase="Error"\} 1/);
    t.kube.seed(builtin.Secret, secretWithKeys(NS, "pg", ["dsn"]));
    await t.run();
    assert.equal(t.df().status?.phase, "Pending");
    assert.deepEqual(t.events.reasons(), ["SecretResolutionFailed", "ConfigMapCreated", "DeploymentCreated"]);
  });

  it("a missing key is named", async () => {
    const t = setup({ secrets: false });
    t.kube.seed(builtin.Secret, secretWithKeys(NS, "pg", ["password"]));
    t.kube.seed(DataFlowType, sample());
    await t.run();
    assert.equal(
      t.df().status?.message,
      "Failed to resolve secrets: spec.sink.postgresql.connectionStringSecretRef: key dsn not found in Secret team-a/pg",
    );
  });

  it("refuses a cross-namespace reference even when that Secret exists", async () => {
    const t = setup();
    t.kube.seed(builtin.Secret, secretWithKeys("other", "pg", ["dsn"]));
    t.kube.seed(
      DataFlowType,
      sample("orders", {
        sink: {
          type: "postgresql",
          postgresql: {
            connectionStringSecretRef: { name: "pg", key: "dsn", namespace: "other" },
            table: "t",
          },
        },
      }),
    );
    await t.run();
    assert.equal(t.df().status?.phase, "Error");
    assert.match(
      t.df().status!.message!,
      /Secret other\/pg is in another namespace; cross-namespace secret references are refused/,
    );
    assert.deepEqual(t.events.reasons(), ["SecretResolutionFailed"]);
    assert.equal(t.dep(), undefined);
  });

  it("mounts exactly the referenced keys into the init container only; spec.json holds the reference", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    const pod = t.dep()!.spec!.template.spec!;
    const vol = pod.volumes!.find((v) => v.secret)!;
    assert.deepEqual(vol.secret, { secretName: "pg", items: [{ key: "dsn", path: "dsn" }] });
    const mount = pod.initContainers![0].volumeMounts!.find((m) => m.name === vol.name)!;
    assert.equal(mount.readOnly, true);
    assert.equal(mount.mountPath, "/var/run/dataflow/secrets/pg");
    assert.equal(pod.containers[0].volumeMounts!.find((m) => m.name === vol.name), undefined);
    const spec = JSON.parse(t.cm()!.data!["spec.json"]);
    assert.deepEqual(spec.sink.postgresql.connectionStringSecretRef, { name: "pg", key: "dsn" });
  });
});
