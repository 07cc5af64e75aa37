/**
 * The reconciler under the processor policy: a violating DataFlow gets phase Error and one Warning
 * PolicyViolation naming the rule, and nothing is written for its processor (a running one keeps
 * its last accepted Deployment); fixing the spec, or a policy that allows it, reconciles it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import { parseProcessorPolicy } from "../../../lib/dataflow/policy.ts";
import { NS, sample, setup } from "./reconciler-setup.ts";

const TOLERATE_ALL =
  "Refused by the operator's processor policy: spec.tolerations[0]: operator Exists without a key " +
  "tolerates every taint, the control plane's too, and is not allowed (tolerations.allowExistsWithoutKey=false)";

describe("reconciler: processor policy", () => {
  it("a violation gives phase Error and one PolicyViolation, and writes no ConfigMap or Deployment", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample("orders", { tolerations: [{ operator: "Exists" }] }));
    await t.run();
    await t.run(); // a retry or resync repeats nothing
    assert.deepEqual(t.events.calls.map((c) => [c.type, c.reason, c.message]), [
      ["Warning", "PolicyViolation", TOLERATE_ALL],
    ]);
    assert.equal(t.df().status?.phase, "Error");
    assert.equal(t.df().status?.message, TOLERATE_ALL);
    assert.equal(t.df().status?.conditions?.[0].reason, "PolicyViolation");
    assert.equal(t.df().status?.conditions?.[0].status, "False");
    assert.deepEqual(
      t.kube.writes.map((w) => `${w.verb} ${w.kind}${w.subresource ? "/" + w.subresource : ""}`),
      ["patch DataFlow", "patch DataFlow/status"], // the finalizer and the status, nothing else
    );
    assert.equal(t.cm(), undefined);
    assert.equal(t.dep(), undefined);
    assert.match(t.registry.render(), /dataflow_status\{namespace="team-a",name="orders",phase="Error"\} 1/);
  });

  it("names every rule broken: 64 CPUs, 512Gi, 8 GPUs", async () => {
    const t = setup();
    t.kube.seed(
      DataFlowType,
      sample("orders", { resources: { requests: { cpu: "64", memory: "512Gi", "nvidia.com/gpu": 8 } } }),
    );
    await t.run();
    assert.equal(
      t.df().status?.message,
      "Refused by the operator's processor policy: " +
        "spec.resources.requests.cpu: 64 is more than the maximum 4 (resources.maxCpu=4); " +
        "spec.resources.requests.memory: 512Gi is more than the maximum 8Gi (resources.maxMemory=8Gi); " +
        "spec.resources.requests[nvidia.com/gpu]: extended resource nvidia.com/gpu is not allowed " +
        "(resources.allowedExtendedResources=[])",
    );
    assert.deepEqual(t.events.reasons(), ["PolicyViolation"]);
    assert.equal(t.dep(), undefined);
  });

  it("a running processor keeps its last accepted Deployment; fixing the spec heals the DataFlow", async () => {
    const t = setup();
    t.kube.seed(DataFlowType, sample());
    await t.run();
    t.kube.setDeploymentStatus(NS, "dataflow-orders", { replicas: 1, readyReplicas: 1 });
    await t.run();
    assert.equal(t.df().status?.phase, "Running");
    const accepted = t.dep();

    const cur = t.df();
    cur.spec.tolerations = [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists" }];
    t.kube.seed(DataFlowType, cur); // an edit by the user
    const writes = t.kube.writes.length;
    await t.run();
    assert.equal(t.df().status?.phase, "Error");
    assert.equal(
      t.df().status?.message,
      "Refused by the operator's processor policy: spec.tolerations[0]: tolerating " +
        "node-role.kubernetes.io/control-plane is not allowed (tolerations.allowControlPlane=false)",
    );
    assert.deepEqual(t.kube.writes.slice(writes).map((w) => `${w.verb} ${w.kind}/${w.subresource}`), [
      "patch DataFlow/status",
    ]);
    assert.deepEqual(t.dep(), accepted, "the Deployment is untouched");

    const fixed = t.df();
    delete fixed.spec.tolerations;
    t.kube.seed(DataFlowType, fixed); // an edit by the user
    await t.run();
    assert.equal(t.df().status?.phase, "Running");
    assert.deepEqual(t.events.reasons(), ["ConfigMapCreated", "DeploymentCreated", "PolicyViolation"]);
  });

  it("a policy that allows it reconciles what the default refuses", async () => {
    const t = setup({
      policy: parseProcessorPolicy(JSON.stringify({
        nodeSelector: { allowedKeys: ["*"] },
        tolerations: { allowControlPlane: true, allowExistsWithoutKey: true },
        resources: { maxCpu: "64", maxMemory: "512Gi", allowedExtendedResources: ["nvidia.com/gpu"] },
      })),
    });
    const placement = {
      nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
      tolerations: [{ operator: "Exists" }],
      resources: { limits: { cpu: "64", memory: "512Gi", "nvidia.com/gpu": 8 } },
    };
    t.kube.seed(DataFlowType, sample("orders", placement));
    await t.run();
    assert.deepEqual(t.events.reasons(), ["ConfigMapCreated", "DeploymentCreated"]);
    const pod = t.dep()!.spec!.template.spec!;
    assert.deepEqual(pod.tolerations, placement.tolerations);
    assert.deepEqual(pod.nodeSelector, placement.nodeSelector);
    assert.deepEqual(pod.containers[0].resources, placement.resources);
  });
});
