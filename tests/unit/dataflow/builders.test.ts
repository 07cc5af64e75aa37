/**
 * The owned objects' exact shape: the Go operator's, hardened, with the config hash, and the
 * init container that renders the processor's spec.json from the ConfigMap and the Secrets.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildConfigMap,
  buildDeployment,
  configHash,
  DEFAULT_OPERATOR_IMAGE,
  DEFAULT_RESOURCES,
  RENDER_RESOURCES,
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
  it("ConfigMap dataflow-<name>-spec holds spec.json (references only), labels and the controller reference", () => {
    const json = specJson(spec());
    const cm = buildConfigMap(df, json);
    assert.deepEqual(cm.metadata, {
      name: "dataflow-orders-spec",
      namespace: "team-a",
      labels,
      ownerReferences: [owner],
    });
    assert.deepEqual(Object.keys(cm.data!), ["spec.json"]);
    assert.deepEqual(JSON.parse(cm.data!["spec.json"]).sink.postgresql, {
      table: "t",
      connectionStringSecretRef: { name: "pg", key: "dsn" },
    });
  });

  it("Deployment dataflow-<name> in the Go operator's shape, hardened", () => {
    const d = buildDeployment(df, {
      spec: spec(),
      mounts,
      hash: "h1",
      settings: { image: "img:1", operatorImage: "operator:1", logLevel: "debug" },
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
    // runAsUser too: the Go operator's processor image has no USER, and runAsNonRoot alone refuses it.
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const hardened = {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
    };
    // The init container: the operator's image, alone in mounting the ConfigMap and the Secrets.
    assert.deepEqual(pod.initContainers, [{
      name: "render-spec",
      image: "operator:1",
      args: [
        "render-spec",
        "--spec=/var/run/dataflow/config/spec.json",
        "--secrets-dir=/var/run/dataflow/secrets",
        "--out=/etc/dataflow",
      ],
      volumeMounts: [
        { name: "config", mountPath: "/var/run/dataflow/config", readOnly: true },
        { name: "spec", mountPath: "/etc/dataflow" },
        { name: "secret-0", mountPath: "/var/run/dataflow/secrets/pg", readOnly: true },
      ],
      resources: RENDER_RESOURCES,
      securityContext: hardened,
    }]);
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
    assert.deepEqual(c.securityContext, hardened);
    // The processor sees only the rendered spec, read-only: no ConfigMap, no Secret.
    assert.deepEqual(c.volumeMounts, [{ name: "spec", mountPath: "/etc/dataflow", readOnly: true }]);
    assert.deepEqual(pod.volumes, [
      { name: "config", configMap: { name: "dataflow-orders-spec" } },
      { name: "spec", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
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
    assert.deepEqual(pod.initContainers![0].securityContext, { privileged: false });
    // No OPERATOR_IMAGE configured: the documented default, <repository>:<version>.
    assert.equal(pod.initContainers![0].image, DEFAULT_OPERATOR_IMAGE);
    assert.match(DEFAULT_OPERATOR_IMAGE, /^dataflow-operator:\d+\.\d+\.\d+/);
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
