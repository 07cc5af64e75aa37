/**
 * The DataFlow operator end to end, high availability: the operator (DATAFLOW_OPERATOR_CMD) as
 * separate processes under deploy/rbac.yaml's ServiceAccount. A restarted operator re-reconciles a
 * converged DataFlow without writing; with two replicas only the Lease holder writes, and the
 * standby takes over when the leader stops.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ControlPlane } from "../controlplane/harness.ts";
import type { KubeClient } from "../../lib/kube/client.ts";
import { OPERATOR_NAMESPACE } from "./install.ts";
import { markReady } from "./kubelet.ts";
import { apiserverWrites, eventsFor, grown, occurrences, parsePrometheus, sleep, sumOf } from "./observe.ts";
import type { OperatorProcess } from "./operator-process.ts";
import { OperatorSuite, SETTLE_MS } from "./operator-suite.ts";
import { dataflow, secret } from "./fixtures.ts";
import { repoRoot } from "./manifests.ts";
import { join } from "node:path";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 600_000 };
const suite = new OperatorSuite();
const { secrets } = suite;
let cp: ControlPlane;
let admin: KubeClient;
let ns: string;
const apply = (body: unknown) => suite.apply(body);
const phaseIs = (name: string, phase: string, message?: RegExp) => suite.phaseIs(name, phase, message);
const eventsWith = (name: string, ...reasons: string[]) => suite.eventsWith(name, ...reasons);
const leader = () => suite.leader();

describe("the DataFlow operator's replicas, under deploy/rbac.yaml", T, () => {
  before(async () => {
    await suite.setUp("replica-a");
    ({ cp, admin, ns } = suite);
  }, T);

  after(() => suite.tearDown(), T);

  it("a DataFlow converges: created, then Running once the processor is ready", T, async () => {
    const password = secrets.add("orders-db");
    await apply(secret("orders-db", { connectionString: `postgres://orders:${password}@db:5432/orders` }));
    await apply(
      dataflow("orders", { connectionStringSecretRef: { name: "orders-db", key: "connectionString" } }),
    );
    await phaseIs("orders", "Pending", /Processor pod is starting/);
    await markReady(admin, ns, "dataflow-orders");
    await phaseIs("orders", "Running", /^Processor pod is running$/);
    await eventsWith("orders", "ConfigMapCreated", "DeploymentCreated");
  });

  it(
    "a change of the operator's own Deployment (deploy/operator.yaml, applied for real) re-reconciles every DataFlow, writing nothing",
    T,
    async () => {
      const op = leader();
      const reconciles = async () =>
        sumOf(parsePrometheus(await op.metrics()), "controller_runtime_reconcile_total");
      const idle = async () => {
        const samples = parsePrometheus(await op.metrics());
        return sumOf(samples, "workqueue_depth") === 0 &&
          sumOf(samples, "controller_runtime_active_workers") === 0;
      };
      const beforeApply = await reconciles();
      await cp.kubectlOk(["apply", "-f", join(repoRoot, "deploy", "operator.yaml")]);
      // The Deployment's appearance is itself a change of it: a pass over every DataFlow, which
      // must be over before counting, or its reconciles would pass for the update's.
      await waitFor(
        "the pass after the operator Deployment appeared, then an idle queue",
        async () => (await reconciles()) > beforeApply && await idle(),
      );
      const r0 = await reconciles();
      const w0 = await apiserverWrites(cp);
      const events0 = await eventsFor(cp, ns, "orders");
      // A new PROCESSOR_IMAGE rolled out to the operator's Deployment: a spec change of it.
      await cp.kubectlOk([
        "set",
        "env",
        "-n",
        OPERATOR_NAMESPACE,
        "deployment/dataflow-operator",
        "PROCESSOR_IMAGE=registry.example/dataflow-processor:next",
      ]);
      await waitFor(
        "a reconcile of orders after the operator Deployment changed",
        async () => (await reconciles()) > r0 || undefined,
      );
      await sleep(SETTLE_MS);
      // The only write is kubectl's own PATCH of the operator Deployment; the running operator's
      // settings did not change, so its converged DataFlow needs nothing.
      assert.deepEqual(grown(w0, await apiserverWrites(cp)), { "deployments PATCH": 1 });
      assert.deepEqual(await eventsFor(cp, ns, "orders"), events0);
    },
  );

  it(
    "a fresh operator (restart) re-reconciles a converged DataFlow with no write and no event",
    T,
    async () => {
      const old = leader();
      assert.equal(await old.stop("SIGTERM"), 0, `exit code after SIGTERM; output:\n${old.tail()}`);
      const w0 = await apiserverWrites(cp);
      const eventsBefore = await eventsFor(cp, ns, "orders");
      const op = await suite.startOperator("replica-c");
      await op.waitHealthy("/readyz", 120_000);
      // A new leader may wait out the old Lease (up to its duration) before reconciling.
      await waitFor(
        "the restarted operator's first reconcile",
        async () =>
          sumOf(parsePrometheus(await op.metrics()), "controller_runtime_reconcile_total") >= 1 || undefined,
        60_000,
      );
      await sleep(SETTLE_MS);
      assert.deepEqual(grown(w0, await apiserverWrites(cp)), {});
      assert.deepEqual(await eventsFor(cp, ns, "orders"), eventsBefore);
    },
  );

  it(
    "with two replicas only the leader writes; the standby takes over when the leader stops",
    T,
    async () => {
      const a = leader();
      const b = await suite.startOperator("replica-d");
      await b.waitHealthy("/healthz", 120_000);
      const lease = await cp.kubectlOk([
        "get",
        "lease",
        "dataflow-operator.dataflow.io",
        "-n",
        OPERATOR_NAMESPACE,
        "-o",
        "jsonpath={.spec.holderIdentity}",
      ]);
      assert.equal(lease, a.name);
      const writesOf = async (op: OperatorProcess) =>
        sumOf(parsePrometheus(await op.metrics()), "rest_client_requests_total", (l) => l.method !== "GET");
      // Its only non-GET requests so far are the start-up check's (a SelfSubjectReview, one
      // SelfSubjectAccessReview per permission, a dry-run Lease create): nothing is written.
      const atStart = await writesOf(b);
      assert.ok(
        b.lines.some((l) => /dataflow-operator .* connecting to/.test(l)),
        "the start-up check passed",
      );

      await apply(dataflow("two-replicas", { connectionString: "postgres://app@db/app" }));
      await phaseIs("two-replicas", "Pending");
      await sleep(SETTLE_MS);
      assert.equal(await writesOf(b), atStart, `the standby wrote:\n${b.tail()}`);
      assert.ok(await writesOf(a) > 0);
      assert.equal(
        occurrences(await eventsWith("two-replicas", "DeploymentCreated"), "DeploymentCreated"),
        1,
      );

      assert.equal(await a.stop("SIGTERM"), 0);
      await waitFor("replica-d holds the Lease", async () => {
        const h = await cp.kubectlOk([
          "get",
          "lease",
          "dataflow-operator.dataflow.io",
          "-n",
          OPERATOR_NAMESPACE,
          "-o",
          "jsonpath={.spec.holderIdentity}",
        ]);
        return h === b.name || undefined;
      }, 60_000);
      await markReady(admin, ns, "dataflow-two-replicas");
      await phaseIs("two-replicas", "Running");
      assert.ok(await writesOf(b) > atStart);
    },
  );

  it(
    "no secret value appears in any ConfigMap, Event, DataFlow, Deployment or operator log line",
    T,
    async () => {
      await suite.assertNoSecretLeak(["orders-db"]);
    },
  );
});
