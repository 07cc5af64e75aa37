/**
 * The processor policy end to end, with the operator as a process under deploy/rbac.yaml: by
 * default a DataFlow tolerating every taint, and one asking for 64 CPUs, are marked Error with a
 * Warning PolicyViolation naming the rule and get no ConfigMap or Deployment, while a compliant
 * one is reconciled; the same DataFlows are reconciled by an operator whose PROCESSOR_POLICY allows
 * them; a bad PROCESSOR_POLICY stops the operator with exit code 2 before it connects.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Deployment } from "kubernetes-types/apps/v1";
import { ControlPlane, type Identity } from "../controlplane/harness.ts";
import { freshNamespace } from "../controlplane/env.ts";
import { dataflow, type DataFlowBody } from "./fixtures.ts";
import { installOperatorIdentity, OPERATOR_NAMESPACE } from "./install.ts";
import { eventsFor } from "./observe.ts";
import { OperatorProcess } from "./operator-process.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };
let cp: ControlPlane;
let identity: Identity;
let ns: string;
const operators: OperatorProcess[] = [];

/** A DataFlow with extra spec fields (placement, resources). */
function withSpec(name: string, extra: Record<string, unknown>): DataFlowBody {
  const df = dataflow(name, { connectionString: "postgres://db.example/x" });
  return { ...df, spec: { ...df.spec, ...extra } } as DataFlowBody;
}

const TOLERATE_ALL = { tolerations: [{ operator: "Exists" }] };
const BIG = { resources: { requests: { cpu: "64" }, limits: { cpu: "64" } } };
const COMPLIANT = {
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "dataflow", effect: "NoSchedule" }],
  resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "2", memory: "2Gi" } },
};

async function startOperator(env: Record<string, string> = {}): Promise<OperatorProcess> {
  const op = await OperatorProcess.start({
    name: `operator-${operators.length}`,
    kubeconfig: identity.kubeconfigPath,
    // Only this file's namespace, and no Lease: one operator at a time, restarted with another policy.
    args: ["--leader-elect=false", `--namespace=${ns}`],
    env: { OPERATOR_NAMESPACE, ...env },
  });
  operators.push(op);
  return op;
}

async function getDataFlow(name: string): Promise<DataFlowBody> {
  return JSON.parse(await cp.kubectlOk(["get", "dataflow", name, "-n", ns, "-o", "json"])) as DataFlowBody;
}

/** Waits until the DataFlow's status is for its current generation and in `phase`. */
function phaseIs(name: string, phase: string, op: OperatorProcess): Promise<DataFlowBody> {
  return waitFor(
    `${name} in phase ${phase}`,
    async () => {
      const df = await getDataFlow(name);
      return df.status?.observedGeneration === df.metadata.generation && df.status?.phase === phase
        ? df
        : undefined;
    },
    {
      timeoutMs: 60_000,
      describe: async () => `${name}: ${JSON.stringify((await getDataFlow(name)).status)}\n${op.tail(20)}`,
    },
  );
}

async function deployment(name: string): Promise<Deployment | undefined> {
  const r = await cp.kubectl(["get", "deployment", `dataflow-${name}`, "-n", ns, "-o", "json"]);
  if (r.code !== 0) {
    assert.match(r.stderr, /NotFound/);
    return undefined;
  }
  return JSON.parse(r.stdout) as Deployment;
}

describe("the processor policy, with the operator as a process", T, () => {
  before(async () => {
    cp = await ControlPlane.start();
    identity = await installOperatorIdentity(cp);
    ns = await freshNamespace(cp, "policy");
  }, T);
  after(async () => {
    for (const op of operators) await op.stop();
    await cp?.stop();
  }, T);

  it(
    "by default, tolerating every taint and 64 CPUs are refused naming the rule; a compliant DataFlow reconciles",
    T,
    async () => {
      const op = await startOperator();
      await op.waitHealthy("/readyz", 120_000);
      for (
        const [name, spec] of [["tolerate-all", TOLERATE_ALL], ["big", BIG], [
          "compliant",
          COMPLIANT,
        ]] as const
      ) {
        await cp.kubectlOk(["apply", "-n", ns, "-f", "-"], { input: JSON.stringify(withSpec(name, spec)) });
      }

      const refused: Array<[string, string]> = [
        [
          "tolerate-all",
          "Refused by the operator's processor policy: spec.tolerations[0]: operator Exists without a key " +
          "tolerates every taint, the control plane's too, and is not allowed " +
          "(tolerations.allowExistsWithoutKey=false)",
        ],
        [
          "big",
          "Refused by the operator's processor policy: " +
          "spec.resources.requests.cpu: 64 is more than the maximum 4 (resources.maxCpu=4); " +
          "spec.resources.limits.cpu: 64 is more than the maximum 4 (resources.maxCpu=4)",
        ],
      ];
      for (const [name, message] of refused) {
        const df = await phaseIs(name, "Error", op);
        assert.equal(df.status?.message, message);
        const ready = df.status?.conditions?.find((c) => c.type === "Ready");
        assert.equal(ready?.status, "False");
        assert.equal(ready?.reason, "PolicyViolation");
        const warnings = await waitFor(
          `a PolicyViolation event on ${name}`,
          async () => {
            const events = (await eventsFor(cp, ns, name)).filter((e) => e.reason === "PolicyViolation");
            return events.length ? events : undefined;
          },
        );
        assert.deepEqual(
          warnings.map((e) => [e.type, e.message, e.count ?? 1]),
          [["Warning", message, 1]],
        );
        assert.equal(await deployment(name), undefined, `no Deployment for ${name}`);
        const cm = await cp.kubectl(["get", "configmap", `dataflow-${name}-spec`, "-n", ns]);
        assert.notEqual(cm.code, 0, `no ConfigMap for ${name}`);
      }

      await phaseIs("compliant", "Pending", op);
      const pod = (await deployment("compliant"))!.spec!.template.spec!;
      assert.deepEqual(pod.nodeSelector, COMPLIANT.nodeSelector);
      assert.deepEqual(pod.tolerations, COMPLIANT.tolerations);
      const processor = pod.containers.find((c) => c.name === "processor")!;
      assert.deepEqual(processor.resources, COMPLIANT.resources);
      assert.equal(
        (await eventsFor(cp, ns, "compliant")).filter((e) => e.type === "Warning").length,
        0,
        "no warning for the compliant DataFlow",
      );
      assert.equal(await op.stop(), 0);
    },
  );

  it("PROCESSOR_POLICY set by the admin allows what the default refused", T, async () => {
    const policy = {
      tolerations: { allowControlPlane: true, allowExistsWithoutKey: true },
      resources: { maxCpu: "64" },
    };
    const op = await startOperator({ PROCESSOR_POLICY: JSON.stringify(policy) });
    await op.waitHealthy("/readyz", 120_000);
    // The policy in force is in the start-up line.
    assert.ok(op.lines.some((l) => /processorPolicy.*maxCpu\\?":\\?"64/.test(l)), op.tail());
    await phaseIs("tolerate-all", "Pending", op);
    assert.deepEqual(
      (await deployment("tolerate-all"))!.spec!.template.spec!.tolerations,
      TOLERATE_ALL.tolerations,
    );
    await phaseIs("big", "Pending", op);
    const pod = (await deployment("big"))!.spec!.template.spec!;
    assert.deepEqual(pod.containers.find((c) => c.name === "processor")!.resources, BIG.resources);
    assert.equal(await op.stop(), 0);
  });

  it("a bad PROCESSOR_POLICY exits 2 with one line naming the field, before it connects", T, async () => {
    const op = await startOperator({ PROCESSOR_POLICY: '{"resources":{"maxCpu":"lots"}}' });
    assert.equal(await op.exited(), 2);
    assert.ok(
      op.lines.includes(
        'error: PROCESSOR_POLICY: resources.maxCpu: expected a quantity such as 500m, 4 or 8Gi, got "lots"',
      ),
      op.tail(),
    );
  });
});
