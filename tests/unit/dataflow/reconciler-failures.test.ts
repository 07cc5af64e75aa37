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
      /^Failed to create ConfigMap dataflow-orders-spec: ConfigMap team-a\/dataflow-orders-spec already exists and is not owned by DataFlow orders/,
    );
    assert.equal(t.events.calls[0].reason, "ConfigMapFailed");
    assert.match(
      t.events.calls[0].message,
      /^Failed to create or update ConfigMap: ConfigMap /,
    );
    assert.equal(t.dep(), undefined);
  });

  it("a failing Deployment write gives DeploymentFailed naming it, in the API's words, and is retried", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    t.kube.failNext.set(
      "create Deployment",
      errorFromResponse(
        500,
        { kind: "Status", code: 500, message: "etcd down" },
        "POST /apis/apps/v1/namespaces/team-a/deployments",
      ),
    );
    await assert.rejects(t.run());
    assert.equal(t.events.calls.at(-1)!.reason, "DeploymentFailed");
    assert.equal(
      t.events.calls.at(-1)!.message,
      "Failed to create or update Deployment: etcd down",
    );
    assert.equal(t.df().status!.message!, "Failed to create Deployment dataflow-orders: etcd down");
    await t.run();
    assert.equal(t.df().status?.phase, "Pending");
  });

  it("a Deployment the API server refuses is not retried until the spec changes", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    const invalid = 'Deployment.apps "dataflow-orders" is invalid: spec.template.spec.affinity: bad';
    t.kube.failNext.set(
      "create Deployment",
      errorFromResponse(
        422,
        { kind: "Status", code: 422, reason: "Invalid", message: invalid },
        "POST /apis/apps/v1/namespaces/team-a/deployments",
      ),
    );
    assert.equal(await t.run(), undefined);
    assert.equal(t.df().status?.phase, "Error");
    assert.equal(t.df().status?.message, `Failed to create Deployment dataflow-orders: ${invalid}`);
    assert.equal(
      t.events.calls.at(-1)!.message,
      `Failed to create or update Deployment: ${invalid}`,
    );
  });

  it("an HTML error page from a proxy is summarised in one line naming the server", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    const page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
      "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    t.kube.failNext.set(
      "create ConfigMap",
      errorFromResponse(
        502,
        page,
        "POST /api/v1/namespaces/team-a/configmaps",
        null,
        "https://10.0.0.1:6443",
      ),
    );
    await assert.rejects(t.run());
    const said = "HTTP 502 from https://10.0.0.1:6443: 502 Bad Gateway";
    assert.equal(t.df().status?.message, `Failed to create ConfigMap dataflow-orders-spec: ${said}`);
    assert.equal(t.events.calls.at(-1)!.message, `Failed to create or update ConfigMap: ${said}`);
  });

  it("a status write failure gives StatusUpdateFailed", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    t.kube.failNext.set(
      "patch/status DataFlow",
      errorFromResponse(
        403,
        { kind: "Status", code: 403, reason: "Forbidden", message: "nope" },
        "PATCH /apis/dataflow.dataflow.io/v1/namespaces/team-a/dataflows/orders/status",
      ),
    );
    await assert.rejects(t.run());
    assert.equal(t.events.calls.at(-1)!.reason, "StatusUpdateFailed");
    assert.equal(t.events.calls.at(-1)!.message, "Unable to update DataFlow status: nope");
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

  it("a spec within the CRD's limits whose spec.json is over 1 MiB gives InvalidSpec naming its largest field", async () => {
    const t = setup();
    // 262,144 characters (the limit) of 4 bytes each in UTF-8: admitted, but 1 MiB of JSON.
    const avroSchema = "\u{1F600}".repeat(262_144);
    t.kube.seed(
      DataFlowType,
      sample("orders", {
        source: { type: "kafka", kafka: { brokers: ["k:9092"], topic: "x", format: "avro", avroSchema } },
      }),
    );
    await t.run();
    assert.match(
      t.df().status!.message!,
      /^Invalid DataFlow spec: spec: its JSON \(spec\.json\) is \d+ bytes, more than the 1048576 bytes ConfigMap dataflow-orders-spec can hold; largest fields: spec\.source\.kafka\.avroSchema \(1048578 bytes\)/,
    );
    assert.deepEqual(t.events.reasons(), ["InvalidSpec"]);
    assert.equal(t.cm(), undefined, "no ConfigMap write the API server would refuse");
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
      errorFromResponse(
        500,
        { kind: "Status", code: 500, message: "boom" },
        "DELETE /apis/apps/v1/namespaces/team-a/deployments/dataflow-orders",
      ),
    );
    await assert.rejects(t.run());
    assert.equal(t.events.calls.at(-1)!.reason, "CleanupFailed");
    assert.equal(t.events.calls.at(-1)!.message, "Failed to cleanup resources: boom");
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
    // Honest: only the ConfigMap was the operator's, so only it is reported deleted.
    assert.deepEqual(t.events.calls.filter((c) => c.reason === "ResourcesDeleted").map((c) => c.message), [
      "Deleted ConfigMap",
    ]);
  });

  it("a DataFlow being deleted without the operator's finalizer is left alone", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, {
      ...sample(),
      metadata: {
        ...sample().metadata,
        finalizers: ["example.com/other"],
        deletionTimestamp: "2026-01-01T00:00:00Z",
      },
    });
    assert.equal(await t.run(), undefined);
    assert.deepEqual(t.kube.writes, []);
    assert.deepEqual(t.events.calls, []);
    assert.deepEqual(t.df().metadata.finalizers, ["example.com/other"]);
  });

  it("deletion with nothing of its own to delete emits no ResourcesDeleted", async () => {
    const t = setup();
    t.kube.seed(builtin.Deployment, { metadata: { name: "dataflow-orders", namespace: NS }, spec: {} });
    t.kube.seed(builtin.ConfigMap, { metadata: { name: "dataflow-orders-spec", namespace: NS }, data: {} });
    t.kube.seed(DataFlowType, sample());
    await t.run().catch(() => {}); // refuses the foreign objects
    await t.kube.delete(DataFlowType, "orders", { namespace: NS });
    await t.run();
    assert.ok(t.dep() && t.cm(), "both foreign objects survive");
    assert.equal(t.kube.lookup(DataFlowType, NS, "orders"), undefined, "the finalizer was released");
    assert.deepEqual(t.events.reasons().filter((r) => r === "ResourcesDeleted"), []);
  });
});
