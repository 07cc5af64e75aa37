/**
 * The DataFlow operator end to end: the operator runs as a separate process (DATAFLOW_OPERATOR_CMD:
 * `deno run -A mod.ts` by default, the Bun-compiled binary in CI) under the ServiceAccount of
 * deploy/, bound only to deploy/rbac.yaml, against a real kube-apiserver of its own. Users act
 * with kubectl as admin; what they see (`kubectl describe`, Events, status) is what is asserted.
 * This file: a DataFlow's life (create, ready, change, idle, secrets, invalid spec, deletion).
 * operator-ha.test.ts: restarts and two replicas.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ControlPlane, Identity } from "../controlplane/harness.ts";
import { freshNamespace } from "../controlplane/env.ts";
import type { KubeClient } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { CONFIG_HASH_ANNOTATION } from "../../lib/dataflow/names.ts";
import { OPERATOR_NAMESPACE } from "./install.ts";
import { markReady } from "./kubelet.ts";
import { apiserverWrites, eventsFor, grown, occurrences, parsePrometheus, sleep, sumOf } from "./observe.ts";
import { maybe, OPERATOR_IMAGE, OperatorSuite, PROCESSOR_IMAGE, SETTLE_MS } from "./operator-suite.ts";
import { dataflow, secret } from "./fixtures.ts";
import { dryRunServer } from "./manifests.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 600_000 };
const suite = new OperatorSuite();
const { secrets, operators } = suite;
let cp: ControlPlane;
let admin: KubeClient;
let identity: Identity;
let ns: string;
const apply = (body: unknown) => suite.apply(body);
const getDataFlow = (name: string) => suite.getDataFlow(name);
const phaseIs = (name: string, phase: string, message?: RegExp) => suite.phaseIs(name, phase, message);
const eventsWith = (name: string, ...reasons: string[]) => suite.eventsWith(name, ...reasons);
const leader = () => suite.leader();
/** The leader's `dataflow_status` series of one DataFlow, as [phase, value] pairs. */
const statusSeries = async (name: string) =>
  parsePrometheus(await leader().metrics())
    .filter((s) => s.name === "dataflow_status" && s.labels.namespace === ns && s.labels.name === name)
    .map((s) => [s.labels.phase, s.value]);

describe("the DataFlow operator as a process, under deploy/rbac.yaml", T, () => {
  before(async () => {
    await suite.setUp("replica-a");
    ({ cp, admin, identity, ns } = suite);
  }, T);

  after(() => suite.tearDown(), T);

  it("runs with deploy/operator.yaml's arguments and environment", T, () => {
    const op = operators[0];
    const given = Object.keys(op.env);
    for (const name of suite.manifest.envNames) {
      assert.ok(given.includes(name), `${name} of deploy/operator.yaml not set`);
    }
  });

  it("runs as the operator's ServiceAccount, which is not an admin", T, async () => {
    const sa = `system:serviceaccount:${OPERATOR_NAMESPACE}:dataflow-operator`;
    const can = async (...args: string[]) =>
      (await cp.kubectl(["auth", "can-i", ...args, `--as=${sa}`])).stdout.trim();
    assert.equal(await can("create", "deployments", "-n", ns), "yes");
    assert.equal(await can("create", "secrets", "-n", ns), "no");
    // Secret metadata is listed and watched; a Secret is never read by name (no get anywhere).
    assert.equal(await can("get", "secrets", "-n", "kube-system"), "no");
    assert.equal(await can("get", "secrets", "-n", ns), "no");
    assert.equal(await can("update", "leases", "-n", ns), "no");
    assert.equal(await can("update", "leases", "-n", OPERATOR_NAMESPACE), "yes");
    assert.equal(await can("create", "pods", "-n", ns), "no");
    assert.equal(identity.name, sa);
  });

  it("create gives the ConfigMap, the Deployment, phase Pending and the Created events", T, async () => {
    const password = secrets.add("orders-db");
    await apply(secret("orders-db", { connectionString: `postgres://orders:${password}@db:5432/orders` }));
    await apply(
      dataflow("orders", { connectionStringSecretRef: { name: "orders-db", key: "connectionString" } }),
    );

    const df = await phaseIs("orders", "Pending", /Processor pod is starting/);
    assert.deepEqual(await statusSeries("orders"), [["Pending", 1]]);
    const cm = await admin.get<ConfigMap>(builtin.ConfigMap, "dataflow-orders-spec", { namespace: ns });
    const dep = await admin.get<Deployment>(builtin.Deployment, "dataflow-orders", { namespace: ns });
    for (const owned of [cm, dep]) {
      assert.deepEqual(owned.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [
        ["DataFlow", "orders", df.metadata.uid, true],
      ]);
      assert.equal(owned.metadata?.labels?.["dataflow.dataflow.io/name"], "orders");
    }
    const spec = JSON.parse(cm.data!["spec.json"]);
    assert.equal(spec.source.kafka.topic, "orders");
    // The ConfigMap holds the reference only; the init container resolves it (processor-contract.test.ts).
    assert.deepEqual(spec.sink.postgresql.connectionStringSecretRef, {
      name: "orders-db",
      key: "connectionString",
    });
    assert.equal(spec.sink.postgresql.connectionString, undefined);

    const pod = dep.spec!.template!;
    assert.deepEqual(pod.metadata?.labels, {
      app: "dataflow-processor",
      "dataflow.dataflow.io/name": "orders",
      "dataflow.dataflow.io/owned": "true",
    });
    assert.match(pod.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] ?? "", /^[0-9a-f]{16,}$/);
    const [c] = pod.spec!.containers;
    assert.equal(c.name, "processor");
    assert.equal(c.image, PROCESSOR_IMAGE);
    assert.deepEqual(c.command, [
      "/processor",
      "--spec-path=/etc/dataflow/spec.json",
      `--namespace=${ns}`,
      "--name=orders",
    ]);
    assert.deepEqual(c.env, [{ name: "LOG_LEVEL", value: "warn" }]);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"]);
    // runAsUser as well as runAsNonRoot: the Go operator's processor image has no USER.
    assert.equal(pod.spec!.securityContext?.runAsNonRoot, true);
    assert.equal(pod.spec!.securityContext?.runAsUser, 65532);
    // The processor reads the rendered spec, read-only, from an in-memory emptyDir; no Secret.
    assert.deepEqual(c.volumeMounts, [{ name: "spec", mountPath: "/etc/dataflow", readOnly: true }]);
    const spill = pod.spec!.volumes!.find((v) => v.name === "spec")!;
    assert.equal(spill.emptyDir?.medium, "Memory");
    // The init container (the operator's image) alone mounts the ConfigMap and exactly the
    // referenced key of the Secret, read-only.
    const [init] = pod.spec!.initContainers!;
    assert.equal(init.name, "render-spec");
    assert.equal(init.image, OPERATOR_IMAGE);
    assert.equal(init.args![0], "render-spec");
    assert.equal(init.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(init.securityContext?.capabilities?.drop, ["ALL"]);
    const vol = pod.spec!.volumes!.find((v) => v.secret?.secretName === "orders-db")!;
    assert.deepEqual(vol.secret!.items!.map((i) => i.key), ["connectionString"]);
    const mount = init.volumeMounts!.find((m) => m.name === vol.name)!;
    assert.equal(mount.readOnly, true);
    assert.ok(
      init.args!.some((a) => a === `--secrets-dir=${mount.mountPath.replace(/\/orders-db$/, "")}`),
      `${mount.mountPath} is not <--secrets-dir>/orders-db`,
    );
    assert.ok(
      init.volumeMounts!.some((m) => m.name === "spec" && m.mountPath === "/etc/dataflow" && !m.readOnly),
    );
    // The processor pod, its init container included, passes the "restricted" Pod Security
    // Standard, as PodSecurity admission enforces it (a dry-run Pod from the template in a
    // namespace that enforces it).
    const psa = await freshNamespace(cp, "psa");
    await cp.kubectlOk(["label", "namespace", psa, "pod-security.kubernetes.io/enforce=restricted"]);
    const probe = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "processor-probe", namespace: psa },
      spec: pod.spec,
    };
    const admitted = await dryRunServer(cp, [probe]);
    assert.equal(admitted.code, 0, admitted.stderr);

    const events = await eventsWith("orders", "ConfigMapCreated", "DeploymentCreated");
    assert.equal(occurrences(events, "ConfigMapCreated"), 1);
    assert.equal(occurrences(events, "DeploymentCreated"), 1);
    const described = await cp.kubectlOk(["describe", "dataflow", "orders", "-n", ns]);
    assert.match(
      described,
      /Normal\s+ConfigMapCreated\s+.*dataflow-controller\s+Created ConfigMap dataflow-orders-spec/,
    );
    assert.match(
      described,
      /Normal\s+DeploymentCreated\s+.*dataflow-controller\s+Created Deployment dataflow-orders/,
    );
  });

  it(
    "readiness of the processor gives Running, the Ready condition and the dataflow_status metric",
    T,
    async () => {
      await markReady(admin, ns, "dataflow-orders");
      const df = await phaseIs("orders", "Running", /^Processor pod is running$/);
      const ready = df.status!.conditions!.find((c) => c.type === "Ready")!;
      assert.equal(ready.status, "True");
      // One series, for the current phase only: the Pending one is gone, not set to 0.
      assert.deepEqual(await statusSeries("orders"), [["Running", 1]]);
    },
  );

  it("a spec change gives each Updated event once and a new pod-template hash", T, async () => {
    const before = await admin.get<Deployment>(builtin.Deployment, "dataflow-orders", { namespace: ns });
    const oldHash = before.spec!.template!.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    await cp.kubectlOk([
      "patch",
      "dataflow",
      "orders",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { source: { kafka: { topic: "orders-v2" } } } }),
    ]);
    const dep = await waitFor("a new pod-template hash", async () => {
      const d = await admin.get<Deployment>(builtin.Deployment, "dataflow-orders", { namespace: ns });
      const h = d.spec!.template!.metadata!.annotations![CONFIG_HASH_ANNOTATION];
      return h !== oldHash ? d : undefined;
    });
    const cm = await admin.get<ConfigMap>(builtin.ConfigMap, "dataflow-orders-spec", { namespace: ns });
    assert.equal(JSON.parse(cm.data!["spec.json"]).source.kafka.topic, "orders-v2");
    await markReady(admin, ns, "dataflow-orders");
    await phaseIs("orders", "Running");
    await eventsWith("orders", "ConfigMapUpdated", "DeploymentUpdated");
    await sleep(SETTLE_MS); // then nothing more may come
    const events = await eventsFor(cp, ns, "orders");
    assert.equal(occurrences(events, "ConfigMapUpdated"), 1, JSON.stringify(events));
    assert.equal(occurrences(events, "DeploymentUpdated"), 1, JSON.stringify(events));
    assert.match(
      events.find((e) => e.reason === "DeploymentUpdated")!.message,
      /^Updated Deployment dataflow-orders$/,
    );
    assert.notEqual(dep.spec!.template!.metadata!.annotations![CONFIG_HASH_ANNOTATION], oldHash);
  });

  it(
    "an idle operator, and a reconcile of an unchanged DataFlow, write nothing and emit nothing",
    T,
    async () => {
      const op = leader();
      const reconciles = async () =>
        sumOf(parsePrometheus(await op.metrics()), "controller_runtime_reconcile_total");
      const eventsBefore = (await eventsFor(cp, ns, "orders")).length;
      const w0 = await apiserverWrites(cp);
      await sleep(SETTLE_MS);
      assert.deepEqual(grown(w0, await apiserverWrites(cp)), {}, "writes while idle");

      // Force reconciles of the unchanged DataFlow: a metadata-only change (our one PATCH) and the
      // processor Deployment's status being written again (the kubelet stand-in's PATCH).
      const r0 = await reconciles();
      const w1 = await apiserverWrites(cp);
      await cp.kubectlOk(["annotate", "dataflow", "orders", "-n", ns, "example.com/touched=yes"]);
      await markReady(admin, ns, "dataflow-orders");
      await waitFor(
        "reconciles of the touched DataFlow",
        async () => (await reconciles()) >= r0 + 2 || undefined,
      );
      await sleep(SETTLE_MS);
      assert.deepEqual(grown(w1, await apiserverWrites(cp)), {
        "dataflows PATCH": 1,
        "deployments/status PATCH": 1,
      });
      assert.equal((await eventsFor(cp, ns, "orders")).length, eventsBefore);
    },
  );

  it(
    "a missing Secret gives SecretResolutionFailed and Error, and heals when the Secret appears",
    T,
    async () => {
      await apply(dataflow("needs-secret", { connectionStringSecretRef: { name: "late-db", key: "url" } }));
      const df = await phaseIs("needs-secret", "Error", /late-db/);
      assert.match(df.status!.message!, /^Failed to resolve secrets: .*late-db/);
      const events = await eventsWith("needs-secret", "SecretResolutionFailed");
      const warn = events.find((e) => e.reason === "SecretResolutionFailed")!;
      assert.equal(warn.type, "Warning");
      assert.match(warn.message, /^Failed to resolve secrets: .*late-db/);
      assert.equal(
        await maybe(admin.get(builtin.Deployment, "dataflow-needs-secret", { namespace: ns })),
        undefined,
      );

      const value = secrets.add("late-db");
      await apply(secret("late-db", { url: `postgres://late:${value}@db/late` }));
      await phaseIs("needs-secret", "Pending", /Processor pod is starting/);
      const dep = await admin.get<Deployment>(builtin.Deployment, "dataflow-needs-secret", { namespace: ns });
      const hash = dep.spec!.template!.metadata!.annotations![CONFIG_HASH_ANNOTATION];

      // Rotating the Secret rolls the processor (a new hash), without a DataFlow change.
      const rotated = secrets.add("late-db-rotated");
      await apply(secret("late-db", { url: `postgres://late:${rotated}@db/late` }));
      await waitFor("a new hash after the Secret rotation", async () => {
        const d = await admin.get<Deployment>(builtin.Deployment, "dataflow-needs-secret", { namespace: ns });
        return d.spec!.template!.metadata!.annotations![CONFIG_HASH_ANNOTATION] !== hash || undefined;
      });
    },
  );

  it(
    "a spec over 16 KiB, which the cache does not keep, is read whole and written to its ConfigMap",
    T,
    async () => {
      const body = dataflow("large", { connectionString: "postgres://app@db:5432/app" });
      const avroSchema = `{"type":"record","name":"r","doc":"${"d".repeat(100_000)}","fields":[]}`;
      Object.assign(body.spec.source.kafka!, { format: "avro", avroSchema });
      await apply(body);
      await phaseIs("large", "Pending", /Processor pod is starting/);
      const cm = await admin.get<ConfigMap>(builtin.ConfigMap, "dataflow-large-spec", { namespace: ns });
      assert.equal(JSON.parse(cm.data!["spec.json"]).source.kafka.avroSchema, avroSchema);
      await eventsWith("large", "ConfigMapCreated", "DeploymentCreated");
    },
  );

  it("a cross-namespace Secret reference is refused", T, async () => {
    const other = await freshNamespace(cp, "other");
    const value = secrets.add("foreign");
    await cp.kubectlOk(["apply", "-n", other, "-f", "-"], {
      input: JSON.stringify(secret("foreign", { url: value })),
    });
    await apply(
      dataflow("cross", { connectionStringSecretRef: { name: "foreign", key: "url", namespace: other } }),
    );
    const df = await phaseIs("cross", "Error", /another namespace|cross-namespace/);
    assert.match(df.status!.message!, new RegExp(`${other}/foreign`));
    const warn = (await eventsWith("cross", "SecretResolutionFailed")).find((e) =>
      e.reason === "SecretResolutionFailed"
    );
    assert.ok(warn, "no SecretResolutionFailed event");
    assert.equal(
      await maybe(admin.get(builtin.ConfigMap, "dataflow-cross-spec", { namespace: ns })),
      undefined,
    );
    assert.equal(await maybe(admin.get(builtin.Deployment, "dataflow-cross", { namespace: ns })), undefined);
  });

  it("an invalid spec is rejected by the API server with a message naming the field", T, async () => {
    const bad = dataflow("invalid", { connectionString: "postgres://x@db/x" });
    delete (bad.spec.source.kafka as { brokers?: unknown }).brokers;
    const r = await cp.kubectl(["apply", "-n", ns, "-f", "-"], { input: JSON.stringify(bad) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.source\.kafka\.brokers/);
    assert.match(r.stderr, /brokers or brokersSecretRef is required/);
    const unknownType = dataflow("invalid2", { connectionString: "postgres://x@db/x" });
    (unknownType.spec.sink as { type: string }).type = "mongodb";
    const r2 = await cp.kubectl(["apply", "-n", ns, "-f", "-"], { input: JSON.stringify(unknownType) });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /spec\.sink\.type/);
  });

  it("deletion gives ResourcesDeleted and removes the objects and the finalizer", T, async () => {
    const df = await getDataFlow("orders");
    assert.ok(
      df.metadata.finalizers?.includes("dataflow.dataflow.io/finalizer"),
      "no finalizer on the DataFlow",
    );
    await cp.kubectlOk(["delete", "dataflow", "orders", "-n", ns, "--wait=true", "--timeout=60s"]);
    assert.equal(await maybe(getDataFlow("orders")), undefined);
    // No garbage collector runs here: the operator itself must have deleted them.
    assert.equal(
      await maybe(admin.get(builtin.ConfigMap, "dataflow-orders-spec", { namespace: ns })),
      undefined,
    );
    assert.equal(await maybe(admin.get(builtin.Deployment, "dataflow-orders", { namespace: ns })), undefined);
    const events = await waitFor("ResourcesDeleted", async () => {
      const e = await eventsFor(cp, ns, "orders");
      return occurrences(e, "ResourcesDeleted") > 0 ? e : undefined;
    });
    assert.equal(
      events.find((e) => e.reason === "ResourcesDeleted")!.message,
      "Deleted Deployment and ConfigMap",
    );
    await waitFor("dataflow_status series gone", async () => {
      const m = parsePrometheus(await leader().metrics());
      return m.some((s) => s.name === "dataflow_status" && s.labels.name === "orders") ? undefined : true;
    });
  });

  it(
    "no secret value appears in any ConfigMap, Event, DataFlow, Deployment or operator log line",
    T,
    async () => {
      await suite.assertNoSecretLeak(["orders-db", "late-db-rotated", "foreign"]);
    },
  );
});
