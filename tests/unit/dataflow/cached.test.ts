/**
 * What the caches keep (lib/dataflow/cached.ts): a large spec is not cached and the reconcile
 * reads it whole for one reconcile; an owned ConfigMap is cached as a hash of its data and still
 * compares equal (no write) or different (one write) exactly as the whole object does.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { KubeObject } from "../../../lib/kube/client.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import {
  LARGE_SPEC_BYTES,
  referencedSecrets,
  slimConfigMap,
  slimDataFlow,
  specElided,
} from "../../../lib/dataflow/cached.ts";
import { configMapDiffers } from "../../../lib/dataflow/diff.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
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
