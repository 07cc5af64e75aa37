/**
 * The DataFlow operator, run in-process with an admin client, against the real control plane:
 * owned objects, phases, `kubectl describe dataflow` events, updates, idle resync, secrets,
 * cross-namespace refusal, API-server validation, deletion, and no secret value anywhere.
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
import { createOperator, type Operator } from "../../../lib/dataflow/controller.ts";
import { CONFIG_HASH_ANNOTATION, DataFlowType, FINALIZER } from "../../../lib/dataflow/names.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
import { installCrd } from "../../e2e/install.ts";
import { CountingTransport, waitFor } from "./support.ts";

const SECRET_VALUE = "postgres://app:Sup3r-S3cret-Value@db:5432/app";

function dataflowYaml(ns: string, name: string, sinkRef: Record<string, string>, topic = "orders"): string {
  return JSON.stringify({
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace: ns },
    spec: {
      source: { type: "kafka", kafka: { brokers: ["kafka:9092"], topic } },
      sink: { type: "postgresql", postgresql: { connectionStringSecretRef: sinkRef, table: "orders" } },
    },
  });
}

describe("DataFlow operator against the real API server", { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let counting: CountingTransport;
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
      operator = createOperator({
        client: new KubeClient(counting),
        processor: { image: "example.com/processor:test", logLevel: "debug" },
        registry: new Registry(),
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
    "create, ready, spec change, idle resync, delete — with the documented events",
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
      const cm = await waitFor(
        "the ConfigMap",
        () => get<ConfigMap>(builtin.ConfigMap, ns, "dataflow-orders-spec"),
      );
      assert.equal(dep.spec!.template.spec!.containers[0].name, "processor");
      assert.deepEqual(dep.spec!.template.spec!.containers[0].command, [
        "/processor",
        "--spec-path=/etc/dataflow/spec.json",
        `--namespace=${ns}`,
        "--name=orders",
      ]);
      assert.equal(dep.metadata!.ownerReferences![0].controller, true);
      assert.deepEqual(JSON.parse(cm.data!["spec.json"]).sink.postgresql.connectionStringSecretRef, {
        name: "pg",
        key: "dsn",
      });
      assert.equal(dep.spec!.template.spec!.initContainers![0].name, "render-spec");
      const pending = await waitFor("phase Pending", async () => {
        const d = await df(ns, "orders");
        return d?.status?.phase === "Pending" && d;
      });
      assert.equal(pending.status!.message, "Processor pod is starting");
      assert.deepEqual(pending.metadata.finalizers, [FINALIZER]);
      const described = await waitFor("events in kubectl describe", async () => {
        const out = await cp.kubectlOk(["-n", ns, "describe", "dataflow", "orders"]);
        return /ConfigMapCreated/.test(out) && /DeploymentCreated/.test(out) && out;
      });
      assert.match(
        described,
        /Normal\s+ConfigMapCreated\s+.*dataflow-controller\s+Created ConfigMap dataflow-orders-spec/,
      );
      assert.match(
        described,
        /Normal\s+DeploymentCreated\s+.*dataflow-controller\s+Created Deployment dataflow-orders/,
      );
      const get_df = await cp.kubectlOk(["-n", ns, "get", "df"]);
      assert.match(get_df, /NAME\s+PHASE\s+SOURCE\s+SINK\s+AGE\norders\s+Pending\s+kafka\s+postgresql/);

      // Readiness, as the absent deployment controller would report it.
      await admin.patch(builtin.Deployment, "dataflow-orders", {
        status: {
          observedGeneration: dep.metadata!.generation,
          replicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
        },
      }, { namespace: ns, subresource: "status" });
      await waitFor("phase Running", async () => (await df(ns, "orders"))?.status?.phase === "Running");
      assert.equal((await df(ns, "orders"))!.status!.message, "Processor pod is running");

      // A spec change: each Updated event once, a new pod-template hash.
      const hash1 = dep.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
      await cp.kubectlOk(["apply", "-f", "-"], {
        input: dataflowYaml(ns, "orders", { name: "pg", key: "dsn" }, "orders-v2"),
      });
      const updated = await waitFor("the new hash", async () => {
        const d = await get<Deployment>(builtin.Deployment, ns, "dataflow-orders");
        const h = d?.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
        return h !== undefined && h !== hash1 ? d : undefined;
      });
      await waitFor(
        "observedGeneration 2",
        async () => (await df(ns, "orders"))?.status?.observedGeneration === 2,
      );
      await waitFor("Updated events", async () => {
        const reasons = (await events(ns, "orders")).map((e) => e.reason);
        return reasons.includes("ConfigMapUpdated") && reasons.includes("DeploymentUpdated");
      });
      // Readiness of the new generation, then let everything settle.
      await admin.patch(builtin.Deployment, "dataflow-orders", {
        status: { observedGeneration: updated.metadata!.generation, replicas: 1, readyReplicas: 1 },
      }, { namespace: ns, subresource: "status" });
      await new Promise((r) => setTimeout(r, 1500));
      for (const e of await events(ns, "orders")) {
        assert.equal(e.count ?? 1, 1, `${e.reason} was emitted ${e.count} times`);
      }

      // Idle resync: every DataFlow reconciled again; nothing is written, nothing emitted.
      const writesBefore = counting.writes.length;
      const eventsBefore = JSON.stringify(await events(ns, "orders"));
      operator.controller.enqueueAll();
      await new Promise((r) => setTimeout(r, 2000));
      // Only this test's namespace: DataFlows other test files left behind are not this claim's business.
      assert.deepEqual(
        counting.writes.slice(writesBefore).filter((w) => w.includes(`/namespaces/${ns}/`)),
        [],
      );
      assert.equal(JSON.stringify(await events(ns, "orders")), eventsBefore);

      // Deletion: ResourcesDeleted, objects and finalizer gone.
      await cp.kubectlOk(["-n", ns, "delete", "dataflow", "orders", "--wait=false"]);
      await waitFor("the DataFlow to go", async () => (await df(ns, "orders")) === undefined);
      assert.equal(await get(builtin.Deployment, ns, "dataflow-orders"), undefined);
      assert.equal(await get(builtin.ConfigMap, ns, "dataflow-orders-spec"), undefined);
      const deleted = await waitFor(
        "ResourcesDeleted",
        async () => (await events(ns, "orders")).find((e) => e.reason === "ResourcesDeleted"),
      );
      assert.equal(deleted.message, "Deleted Deployment and ConfigMap");
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

  it("a missing Secret gives SecretResolutionFailed and Error, and heals when it appears", {
    timeout: 60_000,
  }, async () => {
    await ready();
    const ns = await freshNamespace(cp, "df");
    await cp.kubectlOk(["apply", "-f", "-"], {
      input: dataflowYaml(ns, "lonely", { name: "pg", key: "dsn" }),
    });
    const failed = await waitFor("phase Error", async () => {
      const d = await df(ns, "lonely");
      return d?.status?.phase === "Error" && d;
    });
    assert.equal(
      failed.status!.message,
      `Failed to resolve secrets: spec.sink.postgresql.connectionStringSecretRef: Secret ${ns}/pg not found`,
    );
    const out = await waitFor("the warning in describe", async () => {
      const text = await cp.kubectlOk(["-n", ns, "describe", "dataflow", "lonely"]);
      return /SecretResolutionFailed/.test(text) && text;
    });
    assert.match(
      out,
      /Warning\s+SecretResolutionFailed\s+.*Failed to resolve secrets: spec\.sink\.postgresql\.connectionStringSecretRef/,
    );
    assert.equal(await get(builtin.Deployment, ns, "dataflow-lonely"), undefined);

    await secret(ns);
    await waitFor("healed: phase Pending", async () => (await df(ns, "lonely"))?.status?.phase === "Pending");
    const dep = (await get<Deployment>(builtin.Deployment, ns, "dataflow-lonely"))!;
    assert.deepEqual(dep.spec!.template.spec!.volumes!.find((v) => v.secret)!.secret!.items, [{
      key: "dsn",
      path: "dsn",
    }]);
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

  it("refuses a cross-namespace Secret reference", { timeout: 60_000 }, async () => {
    await ready();
    const ns = await freshNamespace(cp, "df");
    const other = await freshNamespace(cp, "df-other");
    await secret(other);
    await cp.kubectlOk(["apply", "-f", "-"], {
      input: dataflowYaml(ns, "thief", { name: "pg", key: "dsn", namespace: other }),
    });
    const d = await waitFor("phase Error", async () => {
      const x = await df(ns, "thief");
      return x?.status?.phase === "Error" && x;
    });
    assert.match(
      d.status!.message!,
      new RegExp(`Secret ${other}/pg is in another namespace; cross-namespace secret references are refused`),
    );
    assert.equal(await get(builtin.ConfigMap, ns, "dataflow-thief-spec"), undefined);
  });

  it("the API server rejects an invalid spec, naming the field", { timeout: 60_000 }, async () => {
    await ready();
    const ns = await freshNamespace(cp, "df");
    const bad = JSON.stringify({
      apiVersion: "dataflow.dataflow.io/v1",
      kind: "DataFlow",
      metadata: { name: "bad", namespace: ns },
      spec: { source: { type: "kafka", kafka: { topic: "t" } }, sink: { type: "trino" } },
    });
    const r = await cp.kubectl(["apply", "-f", "-"], { input: bad });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /spec\.source\.kafka\.brokers: Invalid value: .*brokers or brokersSecretRef is required/,
    );
    assert.match(
      r.stderr,
      /spec\.sink\.trino: Invalid value: .*trino sink configuration is required when type is trino/,
    );
  });

  it("no secret value in any ConfigMap, Event, status or log line", { timeout: 60_000 }, async () => {
    await ready();
    const all = [
      JSON.stringify(await admin.list(builtin.ConfigMap)),
      JSON.stringify(await admin.list(builtin.Event)),
      JSON.stringify((await admin.list(DataFlowType)).items.map((d) => d.status)),
      logs.join("\n"),
    ].join("\n");
    assert.ok(
      logs.some((l) => l.includes("Emitted Kubernetes event")),
      `debug logs show event emissions: ${logs.length} ${logs.slice(0, 5).join("")}`,
    );
    assert.ok(!all.includes(SECRET_VALUE), "the secret value leaked");
    assert.ok(!all.includes(btoa(SECRET_VALUE)), "the base64 secret value leaked");
    assert.ok(!all.includes("Sup3r-S3cret"), "part of the secret value leaked");
  });
});
