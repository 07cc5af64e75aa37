/** DataFlows, statuses and Events for the console's browser tests. */
import { randomBytes } from "node:crypto";
import type { KubeClient, KubeObject } from "../../lib/kube/client.ts";
import { DataFlowType } from "../../lib/dataflow/names.ts";

/**
 * Tenant-written text that would run script or add elements if any page inserted it as markup:
 * an element with an event handler, a script, attribute-breaking quotes and an entity.
 */
export const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"'><b>&amp;`;

/** A Kafka → Kafka DataFlow (the source topic may be any string a tenant writes). */
export function kafkaFlow(name: string, namespace: string, topic = "orders"): KubeObject {
  return {
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace },
    spec: {
      source: { type: "kafka", kafka: { brokers: ["kafka-0.kafka:9092"], topic, consumerGroup: name } },
      sink: { type: "kafka", kafka: { brokers: ["kafka-0.kafka:9092"], topic: "output" } },
    },
  };
}

/** Sets phase and message through the status subresource (as the operator would), with a condition. */
export async function setStatus(
  client: KubeClient,
  namespace: string,
  name: string,
  phase: string,
  message: string,
  observedGeneration?: number,
): Promise<void> {
  await client.patch(DataFlowType, name, {
    status: {
      phase,
      message,
      ...(observedGeneration !== undefined ? { observedGeneration } : {}),
      conditions: [{
        type: "Ready",
        status: phase === "Running" ? "True" : "False",
        reason: phase,
        message,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      }],
    },
  }, { namespace, type: "merge", subresource: "status" });
}

/** A core/v1 Warning Event about a DataFlow that happened `count` times, last 30 s ago. */
export function warningEvent(df: KubeObject, reason: string, message: string, count: number) {
  const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace(/\.\d+Z$/, "Z");
  const m = df.metadata!;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${m.name}.${randomBytes(6).toString("hex")}`, namespace: m.namespace },
    involvedObject: {
      apiVersion: "dataflow.dataflow.io/v1",
      kind: "DataFlow",
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
    },
    type: "Warning",
    reason,
    message,
    count,
    firstTimestamp: iso(10 * 60_000),
    lastTimestamp: iso(30_000),
    source: { component: "dataflow-controller" },
    reportingComponent: "dataflow-controller",
    reportingInstance: "browser-test",
  };
}
