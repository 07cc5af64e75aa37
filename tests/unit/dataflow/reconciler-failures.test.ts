/** The reconciler on ownership conflicts, API failures and deletion: exact events, status and writes. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { builtin } from "../../../lib/kube/resources.ts";
import { errorFromResponse } from "../../../lib/kube/errors.ts";
import { DataFlowType, FINALIZER } from "../../../lib/dataflow/names.ts";
import { NS, sample, setup } from "./reconciler-setup.ts";

describe("reconciler: ownership, failures, deletion", () => {
  it("does not overwrite a ConfigMap it does not own", async () => {
    const t = setup();
    t.kube.seed(builtin.ConfigMap, {
      metadata: { name: "dataflow-orders-spec", namespace: NS },
      data: { mine: "yes" },
    });
    t.kube.seed(DataFlowType, sample());
    const result = await t.run();
    assert.deepEqual(result, { requeueAfterMs: 60_000 });
    assert.deepEqual(t.cm()!.data, { mine: "yes" });
    assert.equal(t.df().status?.phase, "Error");
    assert.match(
      t.df().status!.message!,
      /^Failed to create ConfigMap: ConfigMap team-a\/dataflow-orders-spec already exists and is not owned by DataFlow orders/,
    );
    assert.equal(t.events.calls[0].reason, "ConfigMapFailed");
    assert.match(t.events.calls[0].message, /^Failed to create or update ConfigMap: /);
    assert.equal(t.dep(), undefined);
  });

  it("a failing Deployment write gives DeploymentFailed and is retried", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    t.kube.failNext.set(
      "create Deployment",
      errorFromResponse(500, { kind: "Status", code: 500, message: "etcd down" }),
    );
    await assert.rejects(t.run());
    assert.equal(t.events.calls.at(-1)!.reason, "DeploymentFailed");
    assert.match(t.events.calls.at(-1)!.message, /^Failed to create or update Deployment: .*etcd down/);
    assert.match(t.df().status!.message!, /^Failed to create Deployment: /);
    await t.run();
    assert.equal(t.df().status?.phase, "Pending");
  });

  it("a Deployment the API server refuses is not retried until the spec changes", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    t.kube.failNext.set(
      "create Deployment",
      errorFromResponse(422, {
        kind: "Status",
        code: 422,
        reason: "Invalid",
        message: "spec.template.spec.affinity: bad",
      }),
    );
    assert.equal(await t.run(), undefined);
    assert.equal(t.df().status?.phase, "Error");
    assert.match(t.events.calls.at(-1)!.message, /^Failed to create or update Deployment: .*affinity: bad/);
  });

  it("a status write failure gives StatusUpdateFailed", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    t.kube.failNext.set(
      "patch/status DataFlow",
      errorFromResponse(403, { kind: "Status", code: 403, reason: "Forbidden", message: "nope" }),
    );
    await assert.rejects(t.run());
    assert.equal(t.events.calls.at(-1)!.reason, "StatusUpdateFailed");
    assert.match(t.events.calls.at(-1)!.message, /^Unable to update DataFlow status: .*nope/);
  });

  it("a failing cache read gives FailedGet on a reference to the DataFlow", async () => {
    const t = setup();
    t.cache.broken = new Error("cache exploded");
    await assert.rejects(t.run(), /cache exploded/);
    assert.deepEqual(t.events.calls.map((c) => [c.reason, c.message]), [[
      "FailedGet",
      "Unable to fetch DataFlow",
    ]]);
    assert.deepEqual(t.events.calls[0].target, {
      apiVersion: "dataflow.dataflow.io/v1",
      kind: "DataFlow",
      namespace: NS,
      name: "orders",
    });
  });

  it("an invalid stored spec gives InvalidSpec naming the field, and no objects", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample("orders", { source: { type: "kafka", kafka: { topic: "x" } } }));
    await t.run();
    assert.equal(
      t.df().status?.message,
      "Invalid DataFlow spec: spec.source.kafka.brokers: brokers or brokersSecretRef is required",
    );
    assert.deepEqual(t.events.reasons(), ["InvalidSpec"]);
    assert.equal(t.cm(), undefined);
  });

  it("deletion removes the objects, emits ResourcesDeleted, releases the finalizer and the metric", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    await t.kube.delete(DataFlowType, "orders", { namespace: NS });
    await t.run();
    assert.equal(t.dep(), undefined);
    assert.equal(t.cm(), undefined);
    assert.equal(t.kube.lookup(DataFlowType, NS, "orders"), undefined);
    assert.deepEqual(t.events.calls.at(-1), {
      type: "Normal",
      reason: "ResourcesDeleted",
      message: "Deleted Deployment and ConfigMap",
      target: t.events.calls.at(-1)!.target,
    });
    await t.run(); // gone: nothing more
    assert.equal(t.events.reasons().filter((r) => r === "ResourcesDeleted").length, 1);
    assert.doesNotMatch(t.registry.render(), /name="orders"/);
  });

  it("a failing cleanup gives CleanupFailed and keeps the finalizer", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    await t.kube.delete(DataFlowType, "orders", { namespace: NS });
    t.kube.failNext.set(
      "delete Deployment",
      errorFromResponse(500, { kind: "Status", code: 500, message: "boom" }),
    );
    await assert.rejects(t.run());
    assert.equal(t.events.calls.at(-1)!.reason, "CleanupFailed");
    assert.match(t.events.calls.at(-1)!.message, /^Failed to cleanup resources: .*boom/);
    assert.deepEqual(t.df().metadata.finalizers, [FINALIZER]);
    await t.run();
    assert.equal(t.kube.lookup(DataFlowType, NS, "orders"), undefined);
  });

  it("deletion leaves objects it does not control", async () => {
    const t = setup();
    t.kube.seed(builtin.Deployment, { metadata: { name: "dataflow-orders", namespace: NS }, spec: {} });
    t.kube.seed(DataFlowType, sample());
    await t.run();
    await t.kube.delete(DataFlowType, "orders", { namespace: NS });
    await t.run();
    assert.ok(t.dep(), "the foreign Deployment survives");
    assert.equal(t.kube.lookup(DataFlowType, NS, "orders"), undefined);
  });
});
