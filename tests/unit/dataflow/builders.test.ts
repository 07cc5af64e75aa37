/** The owned objects' exact shape: the Go operator's, hardened, with the config hash. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildConfigMap,
  buildDeployment,
  configHash,
  DEFAULT_RESOURCES,
  specJson,
} from "../../../lib/dataflow/builders.ts";
import { checkSpec, type DataFlowSpec } from "../../../lib/dataflow/schema.ts";
import { CONFIG_HASH_ANNOTATION } from "../../../lib/dataflow/names.ts";

const df = { metadata: { name: "orders", namespace: "team-a", uid: "u-1" } };
const labels = {
  app: "dataflow-processor",
  "dataflow.dataflow.io/name": "orders",
  "dataflow.dataflow.io/owned": "true",
};
const owner = {
  apiVersion: "dataflow.dataflow.io/v1",
  kind: "DataFlow",
  name: "orders",
  uid: "u-1",
  controller: true,
  blockOwnerDeletion: true,
};

function spec(extra: Record<string, unknown> = {}): DataFlowSpec {
  const r = checkSpec({
    source: { type: "kafka", kafka: { brokers: ["k:9092"], topic: "t" } },
    sink: {
      type: "postgresql",
      postgresql: { connectionStringSecretRef: { name: "pg", key: "dsn" }, table: "t" },
    },
    ...extra,
  });
  assert.ok(r.ok);
  return r.spec;
}

const mounts = [{ secretName: "pg", volumeName: "secret-0", keys: ["dsn"] }];

describe("owned-object builders", () => {
  it("ConfigMap dataflow-<name>-spec holds spec.json, labels and the controller reference", () => {
    const json = specJson(spec());
    const cm = buildConfigMap(df, json);
    assert.deepEqual(cm.metadata, {
      name: "dataflow-orders-spec",
      namespace: "team-a",
      labels,
      ownerReferences: [owner],
    });
    assert.deepEqual(Object.keys(cm.data!), ["spec.json"]);
    assert.equal(
      JSON.parse(cm.data!["spec.json"]).sink.postgresql.connectionStringSecretRef.path,
      "/var/run/dataflow/secrets/pg/dsn",
    );
  });

  it("Deployment dataflow-<name> in the Go operator's shape, hardened", () => {
    const d = buildDeployment(df, {
      spec: spec(),
      mounts,
      hash: "h1",
      settings: { image: "img:1", logLevel: "debug" },
    });
    assert.equal(d.metadata!.name, "dataflow-orders");
    assert.deepEqual(d.metadata!.ownerReferences, [owner]);
    assert.deepEqual(d.metadata!.labels, labels);
    assert.equal(d.spec!.replicas, 1);
    assert.deepEqual(d.spec!.selector, { matchLabels: labels });
    assert.deepEqual(d.spec!.strategy, { type: "Recreate" });
    const t = d.spec!.template;
    assert.deepEqual(t.metadata!.labels, labels);
    assert.equal(t.metadata!.annotations![CONFIG_HASH_ANNOTATION], "h1");
    const pod = t.spec!;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    const c = pod.containers[0];
    assert.equal(c.name, "processor");
    assert.equal(c.image, "img:1");
    assert.deepEqual(c.command, [
      "/processor",
      "--spec-path=/etc/dataflow/spec.json",
      "--namespace=team-a",
      "--name=orders",
    ]);
    assert.deepEqual(c.env, [{ name: "LOG_LEVEL", value: "debug" }]);
    assert.deepEqual(c.resources, DEFAULT_RESOURCES);
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
    });
    assert.deepEqual(c.volumeMounts, [
      { name: "spec", mountPath: "/etc/dataflow", readOnly: true },
      { name: "secret-0", mountPath: "/var/run/dataflow/secrets/pg", readOnly: true },
    ]);
    assert.deepEqual(pod.volumes, [
      { name: "spec", configMap: { name: "dataflow-orders-spec" } },
      { name: "secret-0", secret: { secretName: "pg", items: [{ key: "dsn", path: "dsn" }] } },
    ]);
    assert.equal(pod.nodeSelector, undefined);
  });

  it("copies resources and placement from the spec, and takes configured security contexts", () => {
    const s = spec({
      resources: { limits: { cpu: "2" } },
      nodeSelector: { disk: "ssd" },
      tolerations: [{ key: "k", operator: "Exists" }],
      affinity: { nodeAffinity: {} },
    });
    const d = buildDeployment(df, {
      spec: s,
      mounts: [],
      hash: "h",
      settings: {
        image: "i",
        podSecurityContext: { runAsUser: 1000 },
        containerSecurityContext: { privileged: false },
      },
    });
    const pod = d.spec!.template.spec!;
    assert.deepEqual(pod.containers[0].resources, { limits: { cpu: "2" } });
    assert.deepEqual(pod.nodeSelector, { disk: "ssd" });
    assert.deepEqual(pod.tolerations, [{ key: "k", operator: "Exists" }]);
    assert.deepEqual(pod.affinity, { nodeAffinity: {} });
    assert.deepEqual(pod.securityContext, { runAsUser: 1000 });
    assert.deepEqual(pod.containers[0].securityContext, { privileged: false });
    assert.deepEqual(pod.containers[0].env, [{ name: "LOG_LEVEL", value: "info" }]);
  });

  it("the hash changes with spec.json and with any Secret version, and only then", () => {
    const a = specJson(spec()), b = specJson(spec({ nodeSelector: { x: "y" } }));
    assert.equal(configHash(a, { pg: "1" }), configHash(a, { pg: "1" }));
    assert.notEqual(configHash(a, { pg: "1" }), configHash(a, { pg: "2" }));
    assert.notEqual(configHash(a, { pg: "1" }), configHash(b, { pg: "1" }));
    assert.equal(configHash(a, { a: "1", b: "2" }), configHash(a, { b: "2", a: "1" }));
  });
});
