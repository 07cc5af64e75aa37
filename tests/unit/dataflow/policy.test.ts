/**
 * The processor policy (lib/dataflow/policy.ts): its defaults, each rule with the message that
 * names it, and PROCESSOR_POLICY's validation (a bad policy exits 2 naming the field).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse, parseAllDocuments } from "yaml";
import { main } from "../../../lib/dataflow/cli.ts";
import { parseCommandLine, resolveRunSettings } from "../../../lib/dataflow/flags.ts";
import {
  checkPlacement,
  DEFAULT_PROCESSOR_POLICY,
  keyAllowed,
  parseProcessorPolicy,
  policyViolationMessage,
  type ProcessorPolicy,
} from "../../../lib/dataflow/policy.ts";
import type { DataFlowSpec } from "../../../lib/dataflow/schema.ts";
import { ConfigError } from "../../../lib/kube/errors.ts";

const base = {
  source: { type: "kafka", kafka: { brokers: ["k:9092"], topic: "in" } },
  sink: { type: "kafka", kafka: { brokers: ["k:9092"], topic: "out" } },
};
const spec = (extra: Record<string, unknown> = {}) => ({ ...base, ...extra }) as DataFlowSpec;
/** The messages of every violation of `extra` under `policy`. */
const check = (extra: Record<string, unknown>, policy: ProcessorPolicy = DEFAULT_PROCESSOR_POLICY) =>
  checkPlacement(spec(extra), policy).map((v) => v.message);
const policy = (json: unknown) => parseProcessorPolicy(JSON.stringify(json));

describe("processor policy: defaults", () => {
  it("are documented values: OS, arch, zone and region labels; no control plane; 4 CPUs, 8Gi; no extended resources", () => {
    assert.deepEqual(DEFAULT_PROCESSOR_POLICY, {
      nodeSelector: {
        allowedKeys: [
          "kubernetes.io/os",
          "kubernetes.io/arch",
          "topology.kubernetes.io/zone",
          "topology.kubernetes.io/region",
        ],
      },
      tolerations: { allowedKeys: ["*"], allowControlPlane: false, allowExistsWithoutKey: false },
      resources: { maxCpu: "4", maxMemory: "8Gi", allowedExtendedResources: [], requireLimits: false },
    });
    assert.equal(parseProcessorPolicy(undefined), DEFAULT_PROCESSOR_POLICY);
    assert.equal(parseProcessorPolicy("  "), DEFAULT_PROCESSOR_POLICY);
    assert.ok(Object.isFrozen(DEFAULT_PROCESSOR_POLICY.nodeSelector.allowedKeys));
  });

  it("accept a DataFlow without placement, and ordinary placement within the limits", () => {
    assert.deepEqual(check({}), []);
    assert.deepEqual(
      check({
        nodeSelector: { "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "eu-1a" },
        tolerations: [
          { key: "dedicated", operator: "Equal", value: "dataflow", effect: "NoSchedule" },
          { key: "spot", operator: "Exists" },
        ],
        resources: {
          requests: { cpu: "4000m", memory: "8192Mi", "ephemeral-storage": "100Gi" },
          limits: { cpu: 4, memory: "8Gi" },
        },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{
                matchExpressions: [
                  { key: "kubernetes.io/arch", operator: "In", values: ["arm64"] },
                  // Keeping off nodes is always allowed, whatever the key.
                  { key: "node-role.kubernetes.io/control-plane", operator: "DoesNotExist" },
                  { key: "kubernetes.io/hostname", operator: "NotIn", values: ["bad-node"] },
                ],
              }],
            },
          },
          podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
        },
      }),
      [],
    );
  });

  it("refuse everything the issue lists, each violation naming its field and rule", () => {
    const violations = checkPlacement(
      spec({
        nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
        tolerations: [{ operator: "Exists" }],
        resources: {
          requests: { cpu: "64", memory: "512Gi", "nvidia.com/gpu": 8 },
          limits: { cpu: "64", memory: "512Gi", "nvidia.com/gpu": 8 },
        },
      }),
      DEFAULT_PROCESSOR_POLICY,
    );
    assert.deepEqual(violations.map((v) => [v.field, v.rule]), [
      ["spec.nodeSelector[node-role.kubernetes.io/control-plane]", "nodeSelector.allowedKeys"],
      ["spec.tolerations[0]", "tolerations.allowExistsWithoutKey"],
      ["spec.resources.requests.cpu", "resources.maxCpu"],
      ["spec.resources.requests.memory", "resources.maxMemory"],
      ["spec.resources.requests[nvidia.com/gpu]", "resources.allowedExtendedResources"],
      ["spec.resources.limits.cpu", "resources.maxCpu"],
      ["spec.resources.limits.memory", "resources.maxMemory"],
      ["spec.resources.limits[nvidia.com/gpu]", "resources.allowedExtendedResources"],
    ]);
    assert.deepEqual(violations.map((v) => v.message), [
      "spec.nodeSelector[node-role.kubernetes.io/control-plane]: selecting nodes by label " +
      "node-role.kubernetes.io/control-plane is not allowed (nodeSelector.allowedKeys=[kubernetes.io/os, " +
      "kubernetes.io/arch, topology.kubernetes.io/zone, topology.kubernetes.io/region])",
      "spec.tolerations[0]: operator Exists without a key tolerates every taint, the control plane's too, " +
      "and is not allowed (tolerations.allowExistsWithoutKey=false)",
      "spec.resources.requests.cpu: 64 is more than the maximum 4 (resources.maxCpu=4)",
      "spec.resources.requests.memory: 512Gi is more than the maximum 8Gi (resources.maxMemory=8Gi)",
      "spec.resources.requests[nvidia.com/gpu]: extended resource nvidia.com/gpu is not allowed " +
      "(resources.allowedExtendedResources=[])",
      "spec.resources.limits.cpu: 64 is more than the maximum 4 (resources.maxCpu=4)",
      "spec.resources.limits.memory: 512Gi is more than the maximum 8Gi (resources.maxMemory=8Gi)",
      "spec.resources.limits[nvidia.com/gpu]: extended resource nvidia.com/gpu is not allowed " +
      "(resources.allowedExtendedResources=[])",
    ]);
  });
});

describe("processor policy: node selection", () => {
  it("refuses a node-selector key that is not listed", () => {
    assert.deepEqual(check({ nodeSelector: { "kubernetes.io/hostname": "node-1", disk: "ssd" } }), [
      "spec.nodeSelector[kubernetes.io/hostname]: selecting nodes by label kubernetes.io/hostname is not " +
      "allowed (nodeSelector.allowedKeys=[kubernetes.io/os, kubernetes.io/arch, topology.kubernetes.io/zone, " +
      "topology.kubernetes.io/region])",
      "spec.nodeSelector.disk: selecting nodes by label disk is not allowed (nodeSelector.allowedKeys=[" +
      "kubernetes.io/os, kubernetes.io/arch, topology.kubernetes.io/zone, topology.kubernetes.io/region])",
    ]);
  });

  it("takes exact keys, * and prefixes ending in *", () => {
    const p = policy({ nodeSelector: { allowedKeys: ["disk", "example.com/*"] } });
    assert.deepEqual(check({ nodeSelector: { disk: "ssd", "example.com/pool": "a" } }, p), []);
    assert.equal(check({ nodeSelector: { "kubernetes.io/os": "linux" } }, p).length, 1);
    assert.equal(check({ nodeSelector: { "example.org/pool": "a" } }, p).length, 1);
    assert.deepEqual(
      check({ nodeSelector: { anything: "x" } }, policy({ nodeSelector: { allowedKeys: ["*"] } })),
      [],
    );
    assert.equal(keyAllowed([], "a"), false);
    assert.equal(keyAllowed(["a*"], "abc"), true);
    assert.equal(keyAllowed(["a*"], "ba"), false);
  });

  it("applies the same keys to node affinity terms that select nodes, required and preferred", () => {
    const term = (key: string, operator: string) => ({
      matchExpressions: [{ key, operator, values: ["x"] }],
    });
    assert.deepEqual(
      check({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                term("kubernetes.io/os", "In"),
                term("node-role.kubernetes.io/control-plane", "Exists"),
                { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] },
              ],
            },
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 1, preference: term("kubernetes.io/hostname", "In") },
              { weight: 1, preference: term("kubernetes.io/hostname", "NotIn") },
            ],
          },
        },
      }, policy({ nodeSelector: { allowedKeys: ["kubernetes.io/os"] } })),
      [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[1]." +
        "matchExpressions[0].key: selecting nodes by node label node-role.kubernetes.io/control-plane is not " +
        "allowed (nodeSelector.allowedKeys=[kubernetes.io/os])",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[2]." +
        "matchFields[0].key: selecting nodes by node field metadata.name is not allowed " +
        "(nodeSelector.allowedKeys=[kubernetes.io/os])",
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference." +
        "matchExpressions[0].key: selecting nodes by node label kubernetes.io/hostname is not allowed " +
        "(nodeSelector.allowedKeys=[kubernetes.io/os])",
      ],
    );
  });

  it("leaves malformed affinity to the API server instead of failing", () => {
    for (
      const affinity of [
        { nodeAffinity: "any" },
        { nodeAffinity: 42 },
        { nodeAffinity: ["a"] },
        {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [null, 1, "x"] },
          },
        },
        { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [null, { preference: 3 }] } },
        {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{}] }],
            },
          },
        },
      ]
    ) {
      assert.deepEqual(check({ affinity }), [], JSON.stringify(affinity));
    }
  });
});

describe("processor policy: tolerations", () => {
  it("refuses the control plane's taints, under either name, whatever the operator or effect", () => {
    assert.deepEqual(
      check({
        tolerations: [
          { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
          { key: "node-role.kubernetes.io/master", operator: "Equal", value: "", effect: "NoExecute" },
          { key: "dedicated", operator: "Exists" },
        ],
      }),
      [
        "spec.tolerations[0]: tolerating node-role.kubernetes.io/control-plane is not allowed " +
        "(tolerations.allowControlPlane=false)",
        "spec.tolerations[1]: tolerating node-role.kubernetes.io/master is not allowed " +
        "(tolerations.allowControlPlane=false)",
      ],
    );
    const open = policy({ tolerations: { allowControlPlane: true } });
    assert.deepEqual(
      check({ tolerations: [{ key: "node-role.kubernetes.io/master", operator: "Exists" }] }, open),
      [],
    );
  });

  it("refuses operator Exists without a key unless allowed (with the control plane and every key)", () => {
    assert.deepEqual(check({ tolerations: [{ key: "", operator: "Exists", effect: "NoSchedule" }] }), [
      "spec.tolerations[0]: operator Exists without a key tolerates every taint, the control plane's too, " +
      "and is not allowed (tolerations.allowExistsWithoutKey=false)",
    ]);
    const all = policy({ tolerations: { allowExistsWithoutKey: true, allowControlPlane: true } });
    assert.deepEqual(check({ tolerations: [{ operator: "Exists" }] }, all), []);
    // A keyless toleration that is not Exists is invalid: the API server refuses it, the policy has no say.
    assert.deepEqual(check({ tolerations: [{ operator: "Equal", value: "x" }] }), []);
  });

  it("limits taint keys to tolerations.allowedKeys", () => {
    const p = policy({ tolerations: { allowedKeys: ["dedicated", "pool.example.com/*"] } });
    assert.deepEqual(
      check({
        tolerations: [
          { key: "dedicated", operator: "Exists" },
          { key: "pool.example.com/gpu", operator: "Exists" },
          { key: "spot", operator: "Exists" },
        ],
      }, p),
      ["spec.tolerations[2]: tolerating taint spot is not allowed (tolerations.allowedKeys=[dedicated, pool.example.com/*])"],
    );
  });
});

describe("processor policy: resources", () => {
  it("compares CPU and memory with the maxima by value, requests and limits alike", () => {
    assert.deepEqual(check({ resources: { requests: { cpu: "4001m" }, limits: { memory: "8193Mi" } } }), [
      "spec.resources.requests.cpu: 4001m is more than the maximum 4 (resources.maxCpu=4)",
      "spec.resources.limits.memory: 8193Mi is more than the maximum 8Gi (resources.maxMemory=8Gi)",
    ]);
    assert.deepEqual(check({ resources: { requests: { cpu: "0.004k", memory: "8589934592" } } }), []);
    const big = policy({ resources: { maxCpu: 64, maxMemory: "512Gi" } });
    assert.deepEqual(check({ resources: { limits: { cpu: "64", memory: "512Gi" } } }, big), []);
    assert.deepEqual(check({ resources: { limits: { cpu: "1e1.5" } } }), [
      "spec.resources.limits.cpu: 1e1.5 cannot be compared with the maximum (resources.maxCpu=4)",
    ]);
  });

  it("refuses extended resources (GPUs, hugepages) unless listed; ephemeral-storage is standard", () => {
    assert.deepEqual(
      check({ resources: { limits: { "hugepages-2Mi": "1Gi", "ephemeral-storage": "1Ti" } } }),
      [
        "spec.resources.limits.hugepages-2Mi: extended resource hugepages-2Mi is not allowed " +
        "(resources.allowedExtendedResources=[])",
      ],
    );
    const gpus = policy({ resources: { allowedExtendedResources: ["nvidia.com/*"] } });
    assert.deepEqual(check({ resources: { limits: { "nvidia.com/gpu": 8 } } }, gpus), []);
    assert.equal(check({ resources: { limits: { "amd.com/gpu": 1 } } }, gpus).length, 1);
  });

  it("with requireLimits, a DataFlow that sets resources must set CPU and memory limits", () => {
    const strict = policy({ resources: { requireLimits: true } });
    assert.deepEqual(check({ resources: { requests: { cpu: "1" }, limits: { cpu: "2" } } }, strict), [
      "spec.resources.limits.memory: a memory limit is required (resources.requireLimits=true)",
    ]);
    assert.deepEqual(check({}, strict), [], "no spec.resources: the default limits apply");
    assert.deepEqual(check({ resources: { requests: { cpu: "1" } } }), [], "off by default");
  });
});

describe("processor policy: the status message", () => {
  it("names each violation, at most 10, and counts the rest", () => {
    const nodeSelector = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, "v"]));
    const violations = checkPlacement(spec({ nodeSelector }), DEFAULT_PROCESSOR_POLICY);
    const message = policyViolationMessage(violations);
    assert.match(message, /^Refused by the operator's processor policy: spec\.nodeSelector\.k0: /);
    assert.match(message, /spec\.nodeSelector\.k9: .*; and 2 more$/);
    assert.doesNotMatch(message, /k10/);
    assert.equal(
      policyViolationMessage(
        checkPlacement(spec({ tolerations: [{ operator: "Exists" }] }), DEFAULT_PROCESSOR_POLICY),
      ),
      "Refused by the operator's processor policy: spec.tolerations[0]: operator Exists without a key tolerates " +
        "every taint, the control plane's too, and is not allowed (tolerations.allowExistsWithoutKey=false)",
    );
  });
});

describe("PROCESSOR_POLICY", () => {
  it("deploy/operator.yaml and the chart's values.yaml carry exactly the operator's defaults", () => {
    const file = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");
    const deployment = parseAllDocuments(file("deploy/operator.yaml")).map((d) => d.toJS())
      .find((d) => d?.kind === "Deployment");
    const env = deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    const plain = env.find((e) => e.name === "PROCESSOR_POLICY")?.value;
    assert.deepEqual(parseProcessorPolicy(plain), DEFAULT_PROCESSOR_POLICY);
    const values = parse(file("deploy/helm/dataflow-operator/values.yaml"));
    assert.deepEqual(values.processorPolicy, DEFAULT_PROCESSOR_POLICY);
  });

  it("keeps the default of every field it does not set", () => {
    const p = parseProcessorPolicy(
      '{"resources":{"maxCpu":"16"},"tolerations":{"allowedKeys":["dedicated"]}}',
    );
    assert.deepEqual(p, {
      ...DEFAULT_PROCESSOR_POLICY,
      tolerations: { ...DEFAULT_PROCESSOR_POLICY.tolerations, allowedKeys: ["dedicated"] },
      resources: { ...DEFAULT_PROCESSOR_POLICY.resources, maxCpu: "16" },
    });
    assert.deepEqual(
      parseProcessorPolicy('{"nodeSelector":null,"resources":{"maxMemory":null}}'),
      DEFAULT_PROCESSOR_POLICY,
    );
    assert.ok(Object.isFrozen(p.resources));
  });

  it("refuses a bad policy with one message naming the field", () => {
    const cases: Array<[string, string]> = [
      ["{", "PROCESSOR_POLICY is not valid JSON: "],
      ["[]", 'PROCESSOR_POLICY: expected a JSON object such as {"resources":{"maxCpu":"8"}}'],
      [
        '{"placement":{}}',
        "PROCESSOR_POLICY: unknown field placement (the policy has nodeSelector, tolerations, resources)",
      ],
      [
        '{"resources":{"maxGpu":1}}',
        "PROCESSOR_POLICY: unknown field resources.maxGpu (resources has maxCpu, maxMemory, allowedExtendedResources, requireLimits)",
      ],
      ['{"tolerations":[]}', "PROCESSOR_POLICY: tolerations: expected an object"],
      [
        '{"resources":{"maxCpu":"lots"}}',
        'PROCESSOR_POLICY: resources.maxCpu: expected a quantity such as 500m, 4 or 8Gi, got "lots"',
      ],
      [
        '{"resources":{"maxMemory":true}}',
        "PROCESSOR_POLICY: resources.maxMemory: expected a quantity such as 500m, 4 or 8Gi, got true",
      ],
      ['{"resources":{"maxCpu":"-1"}}', "PROCESSOR_POLICY: resources.maxCpu: must not be negative, got -1"],
      [
        '{"resources":{"maxCpu":"200m"}}',
        "PROCESSOR_POLICY: resources.maxCpu: 200m is below 500m, the cpu limit of a processor whose DataFlow sets no spec.resources",
      ],
      [
        '{"resources":{"maxMemory":"256Mi"}}',
        "PROCESSOR_POLICY: resources.maxMemory: 256Mi is below 512Mi, the memory limit of a processor whose DataFlow sets no spec.resources",
      ],
      [
        '{"tolerations":{"allowControlPlane":"yes"}}',
        'PROCESSOR_POLICY: tolerations.allowControlPlane: expected true or false, got "yes"',
      ],
      [
        '{"nodeSelector":{"allowedKeys":"kubernetes.io/os"}}',
        'PROCESSOR_POLICY: nodeSelector.allowedKeys: expected a list of keys (exact, "*", or a prefix ending in "*"), got "kubernetes.io/os"',
      ],
      [
        '{"nodeSelector":{"allowedKeys":[""]}}',
        'PROCESSOR_POLICY: nodeSelector.allowedKeys: expected a list of keys (exact, "*", or a prefix ending in "*"), got [""]',
      ],
      [
        '{"resources":{"allowedExtendedResources":["memory"]}}',
        "PROCESSOR_POLICY: resources.allowedExtendedResources: memory is not an extended resource",
      ],
      [
        '{"tolerations":{"allowExistsWithoutKey":true}}',
        "PROCESSOR_POLICY: tolerations.allowExistsWithoutKey=true tolerates every taint, the control plane's too: " +
        'it needs tolerations.allowControlPlane=true and tolerations.allowedKeys=["*"]',
      ],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseProcessorPolicy(text),
        (err: Error) => err instanceof ConfigError && err.message.startsWith(message),
        `${text}: expected ${message}`,
      );
    }
  });

  it("is read with the other settings, before anything connects, and a bad one exits 2 with one line", async () => {
    const settings = resolveRunSettings(parseCommandLine(["run"]), {
      PROCESSOR_POLICY: '{"resources":{"maxCpu":"8"}}',
    });
    assert.equal(settings.processorPolicy.resources.maxCpu, "8");
    assert.equal(resolveRunSettings(parseCommandLine([]), {}).processorPolicy, DEFAULT_PROCESSOR_POLICY);

    let stderr = "";
    const code = await main(["run", "--kubeconfig=/nonexistent"], {
      stdout: () => {},
      stderr: (t) => {
        stderr += t;
      },
      env: { PROCESSOR_POLICY: '{"resources":{"maxCpu":"lots"}}' },
      handleSignals: false,
    });
    assert.equal(code, 2);
    assert.equal(
      stderr,
      'error: PROCESSOR_POLICY: resources.maxCpu: expected a quantity such as 500m, 4 or 8Gi, got "lots"\n',
    );
  });
});
