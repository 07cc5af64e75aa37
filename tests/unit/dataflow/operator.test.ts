/** The operator's assembly: which informers exist and what they select (nothing is started). */
import { it } from "node:test";
import assert from "node:assert/strict";
import { KubeClient } from "../../../lib/kube/client.ts";
import type { Transport } from "../../../lib/kube/transport.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { createOperator } from "../../../lib/dataflow/operator.ts";
import { FakeEvents } from "./fakes.ts";

const unreachable: Transport = {
  server: "https://unreachable.invalid",
  request: () => Promise.reject(new Error("no request is expected: nothing was started")),
  close: () => {},
};

/** The operator over a client that must never be used, with only `namespaces` chosen. */
const unstarted = (namespaces?: string[]) =>
  createOperator({
    client: new KubeClient(unreachable),
    processor: { image: "i" },
    registry: new Registry(),
    events: new FakeEvents(),
    namespaces,
    healthBindAddress: "0",
    metricsBindAddress: "0",
  });

it("watches owned objects by label only and Secrets as metadata, keeping their keys but not managedFields", () => {
  const op = unstarted(["team-a", "team-b"]);
  for (const inf of [...op.configMaps.informers, ...op.deployments.informers]) {
    assert.equal(inf.options.labelSelector, "dataflow.dataflow.io/owned=true");
  }
  // One informer per watched namespace and kind, each scoped to its namespace (RBAC is granted there only).
  for (const set of [op.dataflows, op.configMaps, op.deployments, op.secrets]) {
    assert.deepEqual(set.informers.map((i) => i.options.namespace), ["team-a", "team-b"]);
  }
  assert.deepEqual(op.controller.informers.length, 8);
  assert.ok(op.secrets.informers.every((i) => i.options.metadataOnly));
  const cached = op.secrets.informers[0].options.transform!({
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

it("with no namespaces, one informer per kind watches all of them", () => {
  const op = unstarted();
  for (const set of [op.dataflows, op.configMaps, op.deployments, op.secrets]) {
    assert.deepEqual(set.informers.map((i) => i.options.namespace), [undefined]);
  }
  assert.equal(op.dataflows.informers[0].name, "dataflows");
});
