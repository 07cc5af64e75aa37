/**
 * What the reconciler logs: one info line per write it makes (what, for which DataFlow), nothing
 * at info for an unchanged DataFlow, one debug line per event emission (the recorder's), and a
 * failure in words at warning with the HTTP request only at debug.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { builtin } from "../../../lib/kube/resources.ts";
import { errorFromResponse } from "../../../lib/kube/errors.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { EventRecorder } from "../../../lib/events/mod.ts";
import { reconcileDataFlow, reconcilerContext } from "../../../lib/dataflow/reconciler.ts";
import { DataFlowStatusMetric } from "../../../lib/dataflow/metrics.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import { fakeSetup } from "../events/fakes.ts";
import { cacheOf, FakeKube, secretWithKeys } from "./fakes.ts";
import { NS, sample, setup } from "./reconciler-setup.ts";

type Line = Record<string, unknown> & { level: string; message: string; logger: string };
const lines: Line[] = [];
// The root category is the application's (configureLogging), so only the reconciler's own part is matched.
const reconcilerLines = () => lines.filter((l) => l.logger.endsWith(".operator.reconciler"));
const infos = () => reconcilerLines().filter((l) => l.level === "INFO").map((l) => l.message);

before(() => configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) }));
beforeEach(() => {
  lines.length = 0;
});
after(() => configureLogging({ level: "fatal", write: () => {} }));

describe("reconciler logs: one info line per write", () => {
  it("names each write and its DataFlow, and logs nothing at info when nothing changed", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    assert.deepEqual(infos(), [
      "added finalizer dataflow.dataflow.io/finalizer to DataFlow team-a/orders",
      "created ConfigMap team-a/dataflow-orders-spec for DataFlow team-a/orders",
      "created Deployment team-a/dataflow-orders for DataFlow team-a/orders",
      "updated status of DataFlow team-a/orders: phase Pending",
    ]);
    assert.equal(infos().length, t.kube.writes.length, "one info line per write");
    const created = reconcilerLines().find((l) => l.message.startsWith("created Deployment"))!;
    assert.equal(created.action, "created");
    assert.equal(created.kind, "Deployment");
    assert.equal(created.object, "team-a/dataflow-orders");
    assert.equal(created.dataflow_namespace, "team-a");
    assert.equal(created.dataflow_name, "orders");

    lines.length = 0;
    await t.run();
    await t.run();
    assert.deepEqual(infos(), [], "an unchanged DataFlow logs nothing at info");

    const cur = t.df();
    cur.spec.nodeSelector = { "topology.kubernetes.io/zone": "zone-a" };
    t.kube.seed(DataFlowType, cur); // an edit by the user
    t.kube.setDeploymentStatus(NS, "dataflow-orders", { replicas: 1, readyReplicas: 1 });
    lines.length = 0;
    await t.run();
    assert.deepEqual(infos(), [
      "updated ConfigMap team-a/dataflow-orders-spec for DataFlow team-a/orders",
      "updated Deployment team-a/dataflow-orders for DataFlow team-a/orders",
      "updated status of DataFlow team-a/orders: phase Running",
    ]);
    assert.equal(reconcilerLines().at(-1)!.statusMessage, "Processor pod is running");
  });

  it("deletion logs each delete, the Stopped status and the finalizer removal", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    await t.kube.delete(DataFlowType, "orders", { namespace: NS });
    lines.length = 0;
    const writes = t.kube.writes.length;
    await t.run();
    assert.deepEqual(infos(), [
      "deleted Deployment team-a/dataflow-orders for DataFlow team-a/orders",
      "deleted ConfigMap team-a/dataflow-orders-spec for DataFlow team-a/orders",
      "updated status of DataFlow team-a/orders: phase Stopped",
      "removed finalizer dataflow.dataflow.io/finalizer from DataFlow team-a/orders",
    ]);
    assert.equal(infos().length, t.kube.writes.length - writes);
  });
});

describe("reconciler logs: failures", () => {
  it("says what failed in words at warning, and the HTTP request only at debug", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    const request = "POST /apis/apps/v1/namespaces/team-a/deployments";
    t.kube.failNext.set(
      "create Deployment",
      errorFromResponse(
        422,
        {
          kind: "Status",
          code: 422,
          reason: "Invalid",
          message: 'Deployment.apps "dataflow-orders" is invalid: spec.template.spec.affinity: Invalid value',
        },
        request,
      ),
    );
    await t.run();
    const warnings = reconcilerLines().filter((l) => l.level === "WARN");
    assert.deepEqual(warnings.map((l) => l.message), [
      'DataFlow team-a/orders: Failed to create Deployment dataflow-orders: Deployment.apps "dataflow-orders" is invalid: spec.template.spec.affinity: Invalid value',
    ]);
    const notDebug = lines.filter((l) => l.level !== "DEBUG");
    assert.ok(!JSON.stringify(notDebug).includes("/apis/apps"), "no verb or path above debug");
    const http = reconcilerLines().filter((l) => l.level === "DEBUG" && l.request === request);
    assert.equal(http.length, 1);
    assert.equal(http[0].message, `API request ${request} failed: HTTP 422 Invalid`);
  });
});

describe("reconciler logs: event emissions", () => {
  it("logs each emission once, at debug, from the recorder", async () => {
    const ev = fakeSetup();
    const recorder = new EventRecorder(ev.client, {
      component: "dataflow-controller",
      clock: ev.clock,
      registry: ev.registry,
    });
    const kube = new FakeKube();
    kube.seed(builtin.Secret, secretWithKeys(NS, "pg", ["dsn"]));
    kube.seed(DataFlowType, sample());
    const ctx = reconcilerContext({
      cache: cacheOf(kube, builtin.Secret),
      client: kube,
      events: recorder,
      metrics: new DataFlowStatusMetric(new Registry()),
      settings: { image: "example/processor:1", logLevel: "info" },
    });
    await reconcileDataFlow(ctx, { namespace: NS, name: "orders" });
    await ev.clock.advance(0);
    const emitted = lines.filter((l) => l.message.startsWith("Emitted Kubernetes event"));
    assert.deepEqual(emitted.map((l) => [l.level, l.message]), [
      [
        "DEBUG",
        "Emitted Kubernetes event Normal ConfigMapCreated on DataFlow team-a/orders: " +
        "Created ConfigMap dataflow-orders-spec (written)",
      ],
      [
        "DEBUG",
        "Emitted Kubernetes event Normal DeploymentCreated on DataFlow team-a/orders: " +
        "Created Deployment dataflow-orders (written)",
      ],
    ]);
    assert.equal(ev.server.list().length, 2);
    await recorder.close();
  });
});
