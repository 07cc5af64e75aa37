/** The operator's wiring: which informers exist and what they select (nothing is started). */
import { it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import type { Transport } from "../../../lib/kube/transport.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { createOperator } from "../../../lib/dataflow/controller.ts";
import { FakeEvents } from "./fakes.ts";

const unreachable: Transport = {
  server: "https://unreachable.invalid",
  request: () => Promise.reject(new Error("no request is expected: nothing was started")),
  close: () => {},
};

it("watches owned objects by label only and Secrets as metadata, keeping their keys but not managedFields", () => {
  const op = createOperator({
    client: new KubeClient(unreachable),
    processor: { image: "i" },
    registry: new Registry(),
    events: new FakeEvents(),
    namespace: "team-a",
    healthBindAddress: "0",
    metricsBindAddress: "0",
  });
  assert.equal(op.configMaps.options.labelSelector, "dataflow.dataflow.io/owned=true");
  assert.equal(op.deployments.options.labelSelector, "dataflow.dataflow.io/owned=true");
  for (const inf of [op.dataflows, op.configMaps, op.deployments, op.secrets]) {
    assert.equal(inf.options.namespace, "team-a");
  }
  assert.equal(op.secrets.options.metadataOnly, true);
  const cached = op.secrets.options.transform!({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "pg",
      namespace: "team-a",
      resourceVersion: "7",
      managedFields: [{ manager: "kubectl", operation: "Update", fieldsV1: { "f:data": { "f:dsn": {} } } }],
    },
  });
  assert.deepEqual(cached, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "pg", namespace: "team-a", resourceVersion: "7" },
    dataKeys: ["dsn"],
  });
});
