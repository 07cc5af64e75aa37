/**
 * The shared set-up of the operator end-to-end files: a private control plane, deploy/'s CRD and
 * RBAC, the operator's ServiceAccount identity, a namespace, and operator replicas started with
 * deploy/operator.yaml's arguments and environment (never as admin). Also the checks every file
 * ends with: nothing was forbidden, and no secret value left its Secret.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { clientFor, freshNamespace } from "../controlplane/env.ts";
import { ControlPlane, type Identity } from "../controlplane/harness.ts";
import type { KubeClient } from "../../lib/kube/client.ts";
import { isNotFound } from "../../lib/kube/errors.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE } from "./install.ts";
import { pick, readManifests } from "./manifests.ts";
import { type CoreEvent, eventsFor, occurrences } from "./observe.ts";
import { OperatorProcess } from "./operator-process.ts";
import type { DataFlowBody } from "./fixtures.ts";
import { SecretValues } from "./fixtures.ts";
import { waitFor } from "../tools/wait.ts";

/** The processor image the suite configures (and finds in the Deployments). */
export const PROCESSOR_IMAGE = "registry.example/dataflow-processor:e2e";
/** The operator image the suite configures (OPERATOR_IMAGE: the processor pods' init container). */
export const OPERATOR_IMAGE = "registry.example/dataflow-operator:e2e";
/** Milliseconds of quiet after which "nothing (more) happened" is asserted. */
export const SETTLE_MS = 4_000;

const DATAFLOWS = {
  apiVersion: "dataflow.dataflow.io/v1",
  kind: "DataFlow",
  plural: "dataflows",
  namespaced: true,
};

/** The manager container of deploy/operator.yaml, as the suite runs it. */
export interface ManifestContainer {
  /** Its arguments after `run`, without the bind addresses (moved to free loopback ports). */
  args: string[];
  /** The names of the environment variables it sets. */
  envNames: string[];
  /** Its PROCESSOR_POLICY (the operator's default policy), run as given. */
  processorPolicy: string;
}

async function manifestContainer(): Promise<ManifestContainer> {
  const dep = pick(await readManifests("deploy/operator.yaml"), "Deployment");
  const c = dep.spec.template.spec.containers.find((x: { name: string }) => x.name === "manager");
  assert.equal(c.args[0], "run");
  return {
    args: c.args.slice(1).filter((a: string) => !/^--(metrics|health-probe)-bind-address=/.test(a)),
    envNames: c.env.map((e: { name: string }) => e.name),
    processorPolicy: c.env.find((e: { name: string }) => e.name === "PROCESSOR_POLICY")?.value ?? "",
  };
}

/** One operator end-to-end file's world. Call {@link setUp} in `before`, {@link tearDown} in `after`. */
export class OperatorSuite {
  /** The file's private control plane. */
  cp!: ControlPlane;
  /** An admin client (the user's side: reads objects, writes Deployment status). */
  admin!: KubeClient;
  /** The operator's ServiceAccount identity (deploy/rbac.yaml's permissions only). */
  identity!: Identity;
  /** The namespace the file's DataFlows live in. */
  ns!: string;
  /** deploy/operator.yaml's manager container, as run. */
  manifest!: ManifestContainer;
  /** Every secret value the file put into a Secret. */
  readonly secrets = new SecretValues();
  /** Every replica started, in order. */
  readonly operators: OperatorProcess[] = [];

  /** Starts the control plane, installs deploy/, and starts replica `first` (waits for /readyz). */
  async setUp(first = "replica-a"): Promise<void> {
    this.cp = await ControlPlane.start();
    this.admin = clientFor(this.cp);
    this.identity = await installOperatorIdentity(this.cp);
    this.ns = await freshNamespace(this.cp, "e2e");
    this.manifest = await manifestContainer();
    const op = await this.startOperator(first);
    await op.waitHealthy("/readyz", 120_000);
  }

  /** Stops every replica and the control plane. */
  async tearDown(): Promise<void> {
    for (const op of this.operators) await op.stop();
    await this.cp?.stop();
  }

  /** Starts a replica as the operator's ServiceAccount with deploy/operator.yaml's arguments. */
  async startOperator(name: string): Promise<OperatorProcess> {
    const op = await OperatorProcess.start({
      name,
      kubeconfig: this.identity.kubeconfigPath,
      args: this.manifest.args,
      env: {
        POD_NAME: name,
        OPERATOR_NAMESPACE,
        // debug: every API write and every event emission is logged, so the no-secret check covers them.
        LOG_LEVEL: "debug",
        PROCESSOR_IMAGE,
        OPERATOR_IMAGE,
        PROCESSOR_LOG_LEVEL: "warn",
        // Exercises the watch of the operator's own Deployment under deploy/rbac.yaml as well.
        OPERATOR_DEPLOYMENT_NAME: "dataflow-operator",
        PROCESSOR_POLICY: this.manifest.processorPolicy,
      },
    });
    this.operators.push(op);
    return op;
  }

  /**
   * The oldest running replica. Replicas are stopped oldest first, so it holds the Lease (the
   * two-replica test asserts that against the Lease's holderIdentity).
   */
  leader(): OperatorProcess {
    const running = this.operators.filter((o) => o.running);
    assert.ok(running.length > 0, "no operator replica is running");
    return running[0];
  }

  /** `kubectl apply` of one object into the suite's namespace, as admin (the user). */
  async apply(body: unknown): Promise<void> {
    await this.cp.kubectlOk(["apply", "-n", this.ns, "-f", "-"], { input: JSON.stringify(body) });
  }

  /** The DataFlow, read live as admin. */
  async getDataFlow(name: string): Promise<DataFlowBody> {
    return await this.admin.get<DataFlowBody>(DATAFLOWS, name, { namespace: this.ns });
  }

  /** Waits for the phase (and message) at the current generation; returns the DataFlow. */
  phaseIs(name: string, phase: string, message?: RegExp): Promise<DataFlowBody> {
    return waitFor(
      `DataFlow ${name} phase ${phase}`,
      async () => {
        const df = await this.getDataFlow(name);
        const ok = df.status?.phase === phase && (!message || message.test(df.status?.message ?? "")) &&
          df.status?.observedGeneration === df.metadata.generation;
        return ok ? df : undefined;
      },
      {
        timeoutMs: 60_000,
        describe: async () =>
          `status: ${JSON.stringify((await this.getDataFlow(name)).status)}\n${
            this.operators.at(-1)?.tail(20)
          }`,
      },
    );
  }

  /** The DataFlow's Events once every reason in `reasons` is there (the recorder writes asynchronously). */
  eventsWith(name: string, ...reasons: string[]): Promise<CoreEvent[]> {
    return waitFor(
      `Events ${reasons.join(", ")} of ${name}`,
      async () => {
        const events = await eventsFor(this.cp, this.ns, name);
        return reasons.every((r) => occurrences(events, r) > 0) ? events : undefined;
      },
      { timeoutMs: 30_000, describe: async () => JSON.stringify(await eventsFor(this.cp, this.ns, name)) },
    );
  }

  /**
   * No secret value in any ConfigMap, Event, DataFlow, Deployment or operator output line; no
   * request of the operator was forbidden. `controls` name recorded values that must still be in
   * their Secrets (proving the check looks at real values).
   */
  async assertNoSecretLeak(controls: string[]): Promise<void> {
    const dump = [
      await this.cp.kubectlOk(["get", "configmaps", "-A", "-o", "json"]),
      await this.cp.kubectlOk(["get", "events", "-A", "-o", "json"]),
      await this.cp.kubectlOk(["get", "dataflows", "-A", "-o", "json"]),
      await this.cp.kubectlOk(["get", "deployments", "-A", "-o", "json"]),
    ].join("\n");
    const logs = this.operators.flatMap((o) => o.lines);
    assert.ok(logs.length > 20, "too few operator log lines to be a meaningful check");
    // deploy/rbac.yaml sufficed for everything the operator tried (a denied request is logged).
    assert.equal(logs.find((l) => /forbidden|"code":"?403/i.test(l)), undefined);
    assert.ok(this.secrets.values.length >= controls.length && controls.length > 0);
    for (const v of this.secrets.values) {
      assert.ok(!dump.includes(v), "a secret value leaked into the API objects");
      assert.equal(
        logs.find((l) => l.includes(v)),
        undefined,
        "a secret value leaked into an operator log line",
      );
    }
    const inSecrets = JSON.parse(await this.cp.kubectlOk(["get", "secrets", "-A", "-o", "json"])).items
      .flatMap((s: { data?: Record<string, string> }) => Object.values(s.data ?? {}))
      .map((b64: string) => Buffer.from(b64, "base64").toString()).join("\n");
    for (const label of controls) {
      assert.ok(
        inSecrets.includes(this.secrets.get(label)),
        `control: the ${label} value is not in its Secret`,
      );
    }
  }
}

/** The value of `p`, or undefined when the object does not exist (any other error is thrown). */
export async function maybe<T>(p: Promise<T>): Promise<T | undefined> {
  return await p.catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
}
