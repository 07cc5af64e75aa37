/**
 * What the caches keep (lib/dataflow/cached.ts): a large spec is not cached and the reconcile
 * reads it whole for one reconcile; an owned ConfigMap is cached as a hash of its data and an
 * owned Deployment as the fields the reconcile compares, and both still compare equal (no write)
 * or different (one write) exactly as the whole object does.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { project } from "../../../lib/collections/project.ts";
import { buildDeployment } from "../../../lib/dataflow/builders.ts";
import {
  DEPLOYMENT_MASK,
  isPartial,
  LARGE_SPEC_BYTES,
  referencedSecrets,
  slimConfigMap,
  slimDataFlow,
  slimDeployment,
  specElided,
} from "../../../lib/dataflow/cached.ts";
import { configMapDiffers, deploymentDiffers } from "../../../lib/dataflow/diff.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import type { DataFlow, DataFlowSpec } from "../../../lib/dataflow/schema.ts";
import { NS, sample, setup } from "./reconciler-setup.ts";

/** The sample with an Avro schema of `bytes` characters. */
function large(bytes = LARGE_SPEC_BYTES * 4): DataFlow {
  const df = sample();
  const kafka = df.spec.source.kafka as Record<string, unknown>;
  kafka.format = "avro";
  kafka.avroSchema = `{"type":"record","name":"r","doc":"${"x".repeat(bytes)}","fields":[]}`;
  return df;
}

describe("cache shape", () => {
  it("keeps a small DataFlow as it is", () => {
    const df = sample() as unknown as KubeObject;
    assert.equal(slimDataFlow(df), df);
    assert.equal(specElided(df as unknown as DataFlow), false);
  });

  it("drops a large spec, keeping the Secret names the Secret watch maps", () => {
    const slim = slimDataFlow(large() as unknown as KubeObject) as unknown as DataFlow;
    assert.equal(slim.spec, undefined);
    assert.equal(specElided(slim), true);
    assert.deepEqual([...referencedSecrets(slim)], ["pg"]);
    assert.ok(JSON.stringify(slim).length < 1000, "nothing of the spec is left");
  });

  it("caches a ConfigMap as a hash that compares like its data", () => {
    const df = { metadata: { name: "orders", namespace: NS, uid: "u1" } };
    const cm: ConfigMap = {
      metadata: {
        name: "dataflow-orders-spec",
        labels: { app: "x" },
        ownerReferences: [{
          apiVersion: "v1",
          kind: "DataFlow",
          name: "orders",
          uid: "u1",
          controller: true,
        }],
      },
      data: { "spec.json": "x".repeat(100_000) },
    };
    const slim = slimConfigMap(cm as KubeObject) as ConfigMap;
    assert.equal(slim.data, undefined);
    assert.ok(JSON.stringify(slim).length < 1000);
    assert.equal(configMapDiffers(slim, cm, df), false);
    assert.equal(configMapDiffers(slim, { ...cm, data: { "spec.json": "y" } }, df), true);
  });

  it("reconciles a DataFlow cached without its spec by reading it whole, and writes the same objects", async () => {
    const whole = setup();
    whole.kube.seed(DataFlowType, large());
    await whole.run();

    const t = setup();
    t.kube.seed(DataFlowType, large());
    const cachedDataflow = t.cache.dataflow;
    t.cache.dataflow = (ns, name) => {
      const df = cachedDataflow(ns, name);
      return df && slimDataFlow(df as unknown as KubeObject) as unknown as DataFlow;
    };
    const cachedConfigMap = t.cache.configMap;
    t.cache.configMap = (ns, name) => {
      const cm = cachedConfigMap(ns, name);
      return cm && slimConfigMap(cm);
    };
    await t.run();
    assert.deepEqual(t.cm()?.data, whole.cm()?.data, "the ConfigMap holds the whole spec");
    assert.deepEqual(t.events.calls.map((c) => c.reason), ["ConfigMapCreated", "DeploymentCreated"]);
    const writes = t.kube.writes.length;
    await t.run();
    assert.equal(t.kube.writes.length, writes, "a second reconcile over the slim caches writes nothing");
    assert.ok(t.kube.lookup(builtin.ConfigMap, NS, "dataflow-orders-spec"));
  });
});

/** Desired Deployments over the range of inputs: defaults, placement, resources, Secrets, settings. */
function desiredDeployments(): Deployment[] {
  const df = { metadata: { name: "orders", namespace: NS, uid: "u1" } };
  const spec = sample().spec as DataFlowSpec;
  const placed = {
    ...spec,
    resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } },
    nodeSelector: { pool: "etl" },
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
    tolerations: [{ key: "etl", operator: "Exists", effect: "NoSchedule" }],
  } as DataFlowSpec;
  const mounts = [
    { volumeName: "secret-pg", secretName: "pg", keys: ["dsn", "user"] },
    { volumeName: "secret-kafka", secretName: "kafka", keys: ["password"] },
  ];
  const settings = { image: "example/processor:1", logLevel: "debug", operatorImage: "op:2" };
  const custom = {
    ...settings,
    podSecurityContext: { runAsUser: 1000, fsGroup: 2000, seccompProfile: { type: "RuntimeDefault" } },
    containerSecurityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
  return [
    buildDeployment(df, { spec, mounts: [], hash: "h", settings }),
    buildDeployment(df, { spec: placed, mounts, hash: "h2", settings }),
    buildDeployment(df, { spec: placed, mounts, hash: "h3", settings: custom }),
  ];
}

/** A Deployment as the API server returns it: defaults, annotations and status conditions added. */
function asServed(desired: Deployment): Deployment {
  const d = structuredClone(desired);
  d.metadata = {
    ...d.metadata,
    uid: "dep-uid",
    resourceVersion: "7",
    generation: 2,
    annotations: { "deployment.kubernetes.io/revision": "2" },
    ownerReferences: [{
      apiVersion: "dataflow.dataflow.io/v1",
      kind: "DataFlow",
      name: "orders",
      uid: "u1",
      controller: true,
    }],
  };
  d.spec!.revisionHistoryLimit = 10;
  d.spec!.progressDeadlineSeconds = 600;
  const pod = d.spec!.template.spec!;
  Object.assign(pod, {
    restartPolicy: "Always",
    dnsPolicy: "ClusterFirst",
    schedulerName: "default-scheduler",
  });
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    Object.assign(c, { terminationMessagePath: "/dev/termination-log", imagePullPolicy: "IfNotPresent" });
  }
  d.status = {
    replicas: 1,
    readyReplicas: 1,
    observedGeneration: 2,
    conditions: [{ type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "ok" }],
  };
  return d;
}

describe("Deployment cache shape", () => {
  it("keeps every field the desired Deployment sets, for every kind of input", () => {
    for (const desired of desiredDeployments()) assert.deepEqual(project(desired, DEPLOYMENT_MASK), desired);
  });

  it("drops server defaults, annotations and conditions, and compares like the whole object", () => {
    const df = { metadata: { name: "orders", namespace: NS, uid: "u1" } };
    for (const desired of desiredDeployments()) {
      const served = asServed(desired);
      const slim = slimDeployment(served as KubeObject) as Deployment;
      assert.ok(isPartial(slim));
      assert.equal(slim.metadata?.annotations, undefined);
      assert.equal(slim.spec?.revisionHistoryLimit, undefined);
      assert.equal(slim.status?.conditions, undefined);
      assert.equal(slim.status?.readyReplicas, 1);
      assert.ok(JSON.stringify(slim).length < JSON.stringify(served).length);
      assert.equal(deploymentDiffers(slim, desired, df), deploymentDiffers(served, desired, df));
      assert.equal(deploymentDiffers(slim, desired, df), false);
      const changed = structuredClone(desired);
      changed.spec!.template.spec!.containers[0].image = "example/processor:2";
      assert.equal(deploymentDiffers(slim, changed, df), true);
    }
  });

  it("shares the parts Deployments have alike, frozen, and keeps one label map per Deployment", () => {
    const desired = (name: string) =>
      buildDeployment({ metadata: { name, namespace: NS, uid: "u1" } }, {
        spec: sample().spec as DataFlowSpec,
        mounts: [],
        hash: `h-${name}`,
        settings: { image: "example/processor:1" },
      });
    const served = [asServed(desired("a")), asServed(desired("b"))];
    const [a, b] = served.map((d) => slimDeployment(structuredClone(d) as KubeObject) as Deployment);
    const [pa, pb] = [a.spec!.template.spec!, b.spec!.template.spec!];
    const [ca, cb] = [pa.containers[0], pb.containers[0]];
    for (const part of ["env", "volumeMounts", "resources", "securityContext"] as const) {
      assert.equal(ca[part], cb[part], `the processor's ${part} is shared`);
      assert.ok(Object.isFrozen(ca[part]));
    }
    assert.equal(pa.initContainers![0].resources, pb.initContainers![0].resources);
    assert.equal(pa.securityContext, pb.securityContext);
    assert.equal(a.spec!.strategy, b.spec!.strategy);
    assert.notEqual(ca.command, cb.command, "what names the DataFlow is its own");
    assert.equal(a.spec!.selector.matchLabels, a.metadata!.labels);
    assert.equal(a.spec!.template.metadata!.labels, a.metadata!.labels);
    assert.ok(Object.isFrozen(a.metadata!.labels));
    assert.notEqual(a.metadata!.labels, b.metadata!.labels);
    // The same values as the plain projection, and no write where the whole object needs none.
    for (const [i, slim] of [a, b].entries()) {
      const plain = project(served[i], DEPLOYMENT_MASK);
      assert.deepEqual(JSON.parse(JSON.stringify(slim)), JSON.parse(JSON.stringify(plain)));
      const name = ["a", "b"][i];
      assert.equal(
        deploymentDiffers(slim, desired(name), { metadata: { name, namespace: NS, uid: "u1" } }),
        false,
      );
    }
  });

  it("leaves the object it was given as it was", () => {
    const served = asServed(desiredDeployments()[2]);
    const before = structuredClone(served);
    slimDeployment(served as KubeObject);
    assert.deepEqual(served, before);
    assert.ok(!Object.isFrozen(served.metadata!.labels));
    assert.ok(!Object.isFrozen(served.spec!.template.spec!.containers[0].resources));
  });

  it("repairs a drifted Deployment cached in part by reading it whole, keeping what others set", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    // Someone else edits the Deployment: an annotation, a field, and the processor's image.
    const edited = structuredClone(t.dep()!);
    edited.metadata!.annotations = { "deployment.kubernetes.io/revision": "1", team: "etl" };
    edited.spec!.revisionHistoryLimit = 3;
    edited.spec!.template.spec!.containers[0].image = "someone/else:1";
    await t.kube.replace(builtin.Deployment, edited);
    const cachedDeployment = t.cache.deployment;
    t.cache.deployment = (ns, name) => {
      const d = cachedDeployment(ns, name);
      return d && slimDeployment(d);
    };
    const writes = t.kube.writes.length;
    await t.run();
    const after = t.dep()!;
    assert.equal(after.spec!.template.spec!.containers[0].image, "example/processor:1");
    assert.deepEqual(after.metadata!.annotations, { "deployment.kubernetes.io/revision": "1", team: "etl" });
    assert.equal(after.spec!.revisionHistoryLimit, 3);
    assert.deepEqual(t.kube.writes.slice(writes).map((w) => `${w.verb} ${w.kind}`), ["replace Deployment"]);
    await t.run();
    assert.equal(t.kube.writes.length, writes + 1, "then nothing more to write");
  });
});
