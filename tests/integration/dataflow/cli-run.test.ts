/**
 * The operator started through the CLI (`main(["run", ...])`, in-process) against the real control
 * plane, for what the end-to-end suite does not show: `--leader-election-namespace` and POD_NAME
 * give the Lease's place and holder, a foreign ConfigMap of the same name is not overwritten, and a
 * Secret rotation rolls the processor while leaving the ConfigMap untouched. The dataflow_status
 * metric and the re-reconcile on a change of the operator's own Deployment are proven with the
 * operator as a process (tests/e2e/operator.test.ts, tests/e2e/operator-ha.test.ts).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import type { KubeClient, KubeObject } from "../../../lib/kube/client.ts";
import { isNotFound } from "../../../lib/kube/errors.ts";
import { builtin, type ResourceType } from "../../../lib/kube/resources.ts";
import { main } from "../../../lib/dataflow/cli.ts";
import type { Operator } from "../../../lib/dataflow/operator.ts";
import { CONFIG_HASH_ANNOTATION, DataFlowType } from "../../../lib/dataflow/names.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
import { installCrd } from "../../e2e/install.ts";
import { waitFor } from "./support.ts";

function manifest(ns: string, name: string): string {
  return JSON.stringify({
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace: ns },
    spec: {
      source: { type: "kafka", kafka: { brokers: ["kafka:9092"], topic: "t" } },
      sink: {
        type: "postgresql",
        postgresql: { connectionStringSecretRef: { name: "pg", key: "dsn" }, table: "t" },
      },
    },
  });
}

describe("the operator run through the CLI", { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let admin: KubeClient;
  let operator: Operator | undefined;
  let exit: Promise<number>;
  let leaseNs: string, opNs: string;
  let stderr = "";

  const get = <T = KubeObject>(rt: ResourceType, ns: string, name: string) =>
    admin.get<T>(rt, name, { namespace: ns }).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  const setup = async (name: string) => {
    const ns = await freshNamespace(cp, "cli");
    await cp.kubectlOk(["-n", ns, "create", "secret", "generic", "pg", "--from-literal=dsn=postgres://x"]);
    await cp.kubectlOk(["apply", "-f", "-"], { input: manifest(ns, name) });
    return ns;
  };

  // Setup runs inside the first test that needs it, under that test's timeout: Bun does not apply
  // node:test hook timeouts, and starting a control plane can take longer than its 5 s default.
  let setupDone: Promise<void> | undefined;
  const ready = () =>
    setupDone ??= (async () => {
      cp = await testControlPlane();
      admin = clientFor(cp);
      await installCrd(cp);
      leaseNs = await freshNamespace(cp, "cli-lease");
      opNs = await freshNamespace(cp, "cli-op");
      exit = main([
        "run",
        `--kubeconfig=${cp.info.admin.kubeconfigPath}`,
        "--leader-elect",
        `--leader-election-namespace=${leaseNs}`,
        "--metrics-bind-address=127.0.0.1:0",
        "--health-probe-bind-address=127.0.0.1:0",
      ], {
        stdout: () => {},
        stderr: (t) => {
          stderr += t;
        },
        env: {
          LOG_LEVEL: "warning",
          PROCESSOR_IMAGE: "example.com/processor:cli",
          OPERATOR_DEPLOYMENT_NAME: "dataflow-operator",
          OPERATOR_NAMESPACE: opNs,
          POD_NAME: "operator-test-pod",
        },
        handleSignals: false,
        onStarted: (op) => operator = op,
      });
      await waitFor("the operator to start", () =>
        Promise.resolve(operator && operator.manager.ports.length >= 1))
        .catch((err) => {
          throw new Error(`${err.message}; ports ${operator?.manager.ports}; stderr: ${stderr}`);
        });
    })();

  after(async () => {
    if (!setupDone) return;
    await setupDone.catch(() => {});
    operator?.manager.stop();
    assert.equal(await exit, 0, stderr);
  });

  it(
    "holds the Lease dataflow-operator.dataflow.io in the configured namespace",
    { timeout: 60_000 },
    async () => {
      await ready();
      const lease = await waitFor(
        "the Lease",
        async () =>
          (await get<{ spec?: { holderIdentity?: string } }>(
            builtin.Lease,
            leaseNs,
            "dataflow-operator.dataflow.io",
          ))
            ?.spec?.holderIdentity,
      );
      assert.equal(lease, "operator-test-pod");
    },
  );

  it("does not overwrite a ConfigMap it does not own", { timeout: 60_000 }, async () => {
    await ready();
    const ns = await freshNamespace(cp, "cli");
    await cp.kubectlOk([
      "-n",
      ns,
      "create",
      "configmap",
      "dataflow-squatter-spec",
      "--from-literal=mine=yes",
    ]);
    await cp.kubectlOk(["-n", ns, "create", "secret", "generic", "pg", "--from-literal=dsn=postgres://x"]);
    await cp.kubectlOk(["apply", "-f", "-"], { input: manifest(ns, "squatter") });
    const d = await waitFor("phase Error", async () => {
      const x = await get<DataFlow>(DataFlowType, ns, "squatter");
      return x?.status?.phase === "Error" && x;
    });
    assert.match(
      d.status!.message!,
      /^Failed to create ConfigMap dataflow-squatter-spec: ConfigMap .*dataflow-squatter-spec already exists and is not owned by DataFlow squatter/,
    );
    assert.deepEqual((await get<ConfigMap>(builtin.ConfigMap, ns, "dataflow-squatter-spec"))!.data, {
      mine: "yes",
    });
    const described = await waitFor("the warning", async () => {
      const out = await cp.kubectlOk(["-n", ns, "describe", "dataflow", "squatter"]);
      return /ConfigMapFailed/.test(out) && out;
    });
    assert.match(
      described,
      /Warning\s+ConfigMapFailed\s+.*Failed to create or update ConfigMap: /,
    );
  });

  it(
    "a Secret rotation rolls the processor and leaves the ConfigMap alone",
    { timeout: 60_000 },
    async () => {
      await ready();
      const ns = await setup("rotor");
      const dep = await waitFor(
        "the Deployment",
        () => get<Deployment>(builtin.Deployment, ns, "dataflow-rotor"),
      );
      const cm = (await get<ConfigMap>(builtin.ConfigMap, ns, "dataflow-rotor-spec"))!;
      const hash = dep.spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
      await cp.kubectlOk([
        "-n",
        ns,
        "patch",
        "secret",
        "pg",
        "-p",
        '{"stringData":{"dsn":"postgres://rotated"}}',
      ]);
      await waitFor("a new hash", async () => {
        const d = await get<Deployment>(builtin.Deployment, ns, "dataflow-rotor");
        return d?.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] !== hash;
      });
      assert.equal(
        (await get<ConfigMap>(builtin.ConfigMap, ns, "dataflow-rotor-spec"))!.metadata!.resourceVersion,
        cm.metadata!.resourceVersion,
      );
    },
  );
});
