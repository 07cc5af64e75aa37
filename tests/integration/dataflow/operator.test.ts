/**
 * The DataFlow operator, run in-process with an admin client, against the real control plane: what
 * only an in-process run shows. A resync (the controller's enqueueAll) of a converged DataFlow
 * writes nothing, counted request by request at the client; a large spec is reconciled whole while
 * the caches keep neither it nor the ConfigMap's text; a missing Secret key heals when added. A
 * DataFlow's life as users see it (owned objects, phases, events, updates, secrets, validation,
 * deletion, no secret value anywhere) is proven by the operator as a process:
 * tests/e2e/operator.test.ts.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { KubeClient, type KubeObject } from "../../../lib/kube/client.ts";
import { isNotFound } from "../../../lib/kube/errors.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { createOperator, type Operator } from "../../../lib/dataflow/operator.ts";
import { DataFlowType, FINALIZER } from "../../../lib/dataflow/names.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
import { installCrd } from "../../e2e/install.ts";
import { CountingTransport, operatorIdle, reconcileTotal, waitFor } from "./support.ts";

const SECRET_VALUE = "postgres://app:Sup3r-S3cret-Value@db:5432/app";

function dataflowYaml(ns: string, name: string, sinkRef: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace: ns },
    spec: {
      source: { type: "kafka", kafka: { brokers: ["kafka:9092"], topic: "orders" } },
      sink: { type: "postgresql", postgresql: { connectionStringSecretRef: sinkRef, table: "orders" } },
    },
  });
}

describe("DataFlow operator against the real API server", { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let counting: CountingTransport;
  let registry: Registry;
  let operator: Operator;
  let running: Promise<number>;
  const logs: string[] = [];

  const get = <T = KubeObject>(rt: typeof builtin.ConfigMap, ns: string, name: string) =>
    admin.get<T>(rt, name, { namespace: ns }).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  const df = (ns: string, name: string) => get<DataFlow>(DataFlowType, ns, name);
  const events = async (ns: string, name: string) =>
    (await admin.list<KubeObject & { reason: string; message: string; count?: number }>(builtin.Event, {
      namespace: ns,
      fieldSelector: `involvedObject.name=${name}`,
    })).items;
  const secret = (ns: string) =>
    cp.kubectlOk(["-n", ns, "create", "secret", "generic", "pg", `--from-literal=dsn=${SECRET_VALUE}`]);

  // Setup runs inside the first test that needs it, under that test's timeout: Bun does not apply
  // node:test hook timeouts, and starting a control plane can take longer than its 5 s default.
  let setupDone: Promise<void> | undefined;
  const ready = () =>
    setupDone ??= (async () => {
      cp = await testControlPlane();
      await installCrd(cp);
      configureLogging({ level: "debug", write: (line) => logs.push(line) });
      admin = clientFor(cp);
      counting = new CountingTransport(admin.transport);
      registry = new Registry();
      operator = createOperator({
        client: new KubeClient(counting),
        processor: { image: "example.com/processor:test", logLevel: "debug" },
        registry,
        healthBindAddress: "0",
        metricsBindAddress: "0",
        handleSignals: false,
      });
      running = operator.manager.run();
    })();

  after(async () => {
    if (!setupDone) return;
    await setupDone.catch(() => {});
    operator.manager.stop();
    assert.equal(await running, 0);
    configureLogging({ level: "warning", write: () => {} });
  });

  it(
    "a resync of a converged DataFlow reconciles it again and writes nothing, counted at the client",
    { timeout: 60_000 },
    async () => {
      await ready();
      const ns = await freshNamespace(cp, "df");
      await secret(ns);
      await cp.kubectlOk(["apply", "-f", "-"], {
        input: dataflowYaml(ns, "orders", { name: "pg", key: "dsn" }),
      });
      const dep = await waitFor(
        "the Deployment",
        () => get<Deployment>(builtin.Deployment, ns, "dataflow-orders"),
      );
      // Readiness, as the absent deployment controller would report it.
      await admin.patch(builtin.Deployment, "dataflow-orders", {
        status: {
          observedGeneration: dep.metadata!.generation,
          replicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
        },
      }, { namespace: ns, subresource: "status" });
      await waitFor("phase Running", async () => (await df(ns, "orders"))?.status?.phase === "Running", {
        timeoutMs: 30_000,
        describe: () => logs.slice(-20).join(""),
      });
      await waitFor("the Created events", async () => {
        const reasons = (await events(ns, "orders")).map((e) => e.reason);
        return reasons.includes("ConfigMapCreated") && reasons.includes("DeploymentCreated");
      });
      await waitFor("the operator idle", () => operatorIdle(operator));

      // Idle resync: every DataFlow reconciled again; nothing is written, nothing emitted.
      const writesBefore = counting.writes.length;
      const eventsBefore = JSON.stringify(await events(ns, "orders"));
      const reconciledBefore = reconcileTotal(registry.render());
      const resynced = operator.dataflows.list().length;
      operator.controller.enqueueAll();
      // First the positive signal: the resync's reconciles ran and nothing they queued is left.
      await waitFor(
        `${resynced} reconciles of the resync`,
        () => reconcileTotal(registry.render()) - reconciledBefore >= resynced && operatorIdle(operator),
      );
      // Only this test's namespace: DataFlows other test files left behind are not this claim's business.
      assert.deepEqual(
        counting.writes.slice(writesBefore).filter((w) => w.includes(`/namespaces/${ns}/`)),
        [],
      );
      assert.equal(JSON.stringify(await events(ns, "orders")), eventsBefore);
      for (const e of await events(ns, "orders")) {
        assert.equal(e.count ?? 1, 1, `${e.reason} was emitted ${e.count} times`);
      }
    },
  );

  it("a large spec is reconciled whole while the caches hold neither it nor the ConfigMap's text", {
    timeout: 60_000,
  }, async () => {
    await ready();
    const ns = await freshNamespace(cp, "df-large");
    await secret(ns);
    const body = JSON.parse(dataflowYaml(ns, "big", { name: "pg", key: "dsn" }));
    const schema = (doc: string) => `{"type":"record","name":"r","doc":"${doc}","fields":[]}`;
    Object.assign(body.spec.source.kafka, { format: "avro", avroSchema: schema("a".repeat(100_000)) });
    await admin.create(DataFlowType, body, { namespace: ns });
    const cm = await waitFor(
      "the ConfigMap",
      () => get<ConfigMap>(builtin.ConfigMap, ns, "dataflow-big-spec"),
    );
    assert.equal(JSON.parse(cm.data!["spec.json"]).source.kafka.avroSchema, schema("a".repeat(100_000)));
    await waitFor("phase Pending", async () => (await df(ns, "big"))?.status?.phase === "Pending");
    const cached = operator.dataflows.get(`${ns}/big`)!;
    assert.equal(cached.spec, undefined, "the DataFlow cache keeps no large spec");
    assert.deepEqual(cached.metadata.finalizers, [FINALIZER]);
    const cachedCm = await waitFor(
      "the cached ConfigMap",
      () => Promise.resolve(operator.configMaps.get(`${ns}/dataflow-big-spec`)),
    );
    assert.equal((cachedCm as ConfigMap).data, undefined, "the ConfigMap cache keeps a hash, not the text");

    const before = counting.writes.length;
    await admin.patch(DataFlowType, "big", {
      spec: { source: { kafka: { avroSchema: schema("b".repeat(100_000)) } } },
    }, {
      namespace: ns,
      type: "merge",
    });
    await waitFor("the new spec in the ConfigMap", async () => {
      const now = await get<ConfigMap>(builtin.ConfigMap, ns, "dataflow-big-spec");
      return now &&
        JSON.parse(now.data!["spec.json"]).source.kafka.avroSchema === schema("b".repeat(100_000));
    });
    await waitFor("the new generation observed", async () => {
      const d = await df(ns, "big");
      return d?.status?.observedGeneration === d?.metadata.generation;
    });
    const cmWrites = counting.writes.slice(before).filter((w) => w.includes("/configmaps/dataflow-big-spec"));
    assert.equal(cmWrites.length, 1, `one ConfigMap update: ${cmWrites.join(", ")}`);
  });

  it(
    "a missing key is named, and adding the key heals (keys read from Secret metadata)",
    { timeout: 60_000 },
    async () => {
      await ready();
      const ns = await freshNamespace(cp, "df");
      await cp.kubectlOk(["-n", ns, "create", "secret", "generic", "pg", "--from-literal=password=x"]);
      await cp.kubectlOk(["apply", "-f", "-"], {
        input: dataflowYaml(ns, "keyless", { name: "pg", key: "dsn" }),
      });
      const d = await waitFor("phase Error", async () => {
        const x = await df(ns, "keyless");
        return x?.status?.phase === "Error" && x;
      });
      assert.equal(
        d.status!.message,
        `Failed to resolve secrets: spec.sink.postgresql.connectionStringSecretRef: key dsn not found in Secret ${ns}/pg`,
      );
      await cp.kubectlOk([
        "-n",
        ns,
        "patch",
        "secret",
        "pg",
        "-p",
        JSON.stringify({ stringData: { dsn: SECRET_VALUE } }),
      ]);
      await waitFor(
        "healed: phase Pending",
        async () => (await df(ns, "keyless"))?.status?.phase === "Pending",
      );
    },
  );
});
