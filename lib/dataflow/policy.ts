/**
 * The processor policy: what the cluster admin lets tenants ask for when a DataFlow's placement
 * and resources are copied into its processor Deployment. Set by the operator's configuration
 * (`PROCESSOR_POLICY`, JSON; the chart's `processorPolicy` values), validated at start-up (a bad
 * policy exits 2 naming the field), and checked by the reconciler before it builds anything: a
 * DataFlow that violates it gets phase Error and a Warning `PolicyViolation` naming each rule, and
 * nothing is written for its processor.
 *
 * Rules (each violation names its setting, e.g. `tolerations.allowControlPlane=false`):
 * - `nodeSelector.allowedKeys`: node label keys `spec.nodeSelector` may use, and node affinity terms
 *   that select nodes (operators In, Exists, Gt, Lt; NotIn and DoesNotExist only exclude nodes and
 *   are always allowed). `matchFields` keys (`metadata.name`) count as keys too.
 * - `tolerations.allowControlPlane`: tolerating `node-role.kubernetes.io/control-plane` or
 *   `node-role.kubernetes.io/master`.
 * - `tolerations.allowExistsWithoutKey`: `operator: Exists` without a key (tolerates every taint).
 * - `tolerations.allowedKeys`: the taint keys a toleration may name.
 * - `resources.maxCpu`, `resources.maxMemory`: the largest CPU and memory request or limit.
 * - `resources.allowedExtendedResources`: resources other than cpu, memory and ephemeral-storage
 *   (GPUs, hugepages, device plugins) a DataFlow may request.
 * - `resources.requireLimits`: a DataFlow that sets `spec.resources` must set CPU and memory limits.
 *
 * Key lists take exact keys, `*` (any key) or a prefix ending in `*` (`example.com/*`).
 */
import { ConfigError } from "../kube/mod.ts";
import { DEFAULT_RESOURCES } from "./builders.ts";
import { compareQuantities, isQuantity } from "./quantity.ts";
import type { DataFlowSpec } from "./schema.ts";

/** The taints of control-plane nodes (kubeadm's, current and legacy). */
export const CONTROL_PLANE_TAINT_KEYS: readonly string[] = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
];

/** Resources that are not extended resources (cpu and memory have their own maxima). */
export const STANDARD_RESOURCES: readonly string[] = ["cpu", "memory", "ephemeral-storage"];

/** The processor policy. */
export interface ProcessorPolicy {
  nodeSelector: {
    /** Node label keys a DataFlow may select nodes by. */
    allowedKeys: string[];
  };
  tolerations: {
    /** Taint keys a DataFlow may tolerate (`*`: any). */
    allowedKeys: string[];
    /** Whether the control plane's taints may be tolerated. */
    allowControlPlane: boolean;
    /** Whether `operator: Exists` without a key (every taint) may be used. */
    allowExistsWithoutKey: boolean;
  };
  resources: {
    /** The largest CPU request or limit (a quantity). */
    maxCpu: string;
    /** The largest memory request or limit (a quantity). */
    maxMemory: string;
    /** Extended resources a DataFlow may request (none by default). */
    allowedExtendedResources: string[];
    /** Whether `spec.resources`, when set, must carry CPU and memory limits. */
    requireLimits: boolean;
  };
}

/** The policy without any configuration. */
export const DEFAULT_PROCESSOR_POLICY: ProcessorPolicy = deepFreeze({
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

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** One broken rule. */
export interface PolicyViolation {
  /** The DataFlow field, as the API server spells paths: `spec.tolerations[0]`. */
  field: string;
  /** The policy setting that refuses it: `tolerations.allowControlPlane`. */
  rule: string;
  /** `<field>: <what> is not allowed (<rule>=<setting>)`. */
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Configuration

type Section = keyof ProcessorPolicy;
const FIELDS: { [S in Section]: Record<keyof ProcessorPolicy[S], "keys" | "boolean" | "quantity"> } = {
  nodeSelector: { allowedKeys: "keys" },
  tolerations: { allowedKeys: "keys", allowControlPlane: "boolean", allowExistsWithoutKey: "boolean" },
  resources: {
    maxCpu: "quantity",
    maxMemory: "quantity",
    allowedExtendedResources: "keys",
    requireLimits: "boolean",
  },
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && !Array.isArray(v);

/**
 * The policy from its JSON text (`PROCESSOR_POLICY`); empty or unset: the defaults. Every field
 * is optional, a missing one keeps its default.
 * @param source the name in error messages
 * @throws ConfigError naming the field and what it expects:
 *   `PROCESSOR_POLICY: resources.maxCpu: expected a quantity such as 500m, 4 or 8Gi, got "lots"`
 */
export function parseProcessorPolicy(text: string | undefined, source = "PROCESSOR_POLICY"): ProcessorPolicy {
  const fail = (message: string): never => {
    throw new ConfigError(`${source}: ${message}`);
  };
  if (!text?.trim()) return DEFAULT_PROCESSOR_POLICY;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) return fail('expected a JSON object such as {"resources":{"maxCpu":"8"}}');
  const sections = Object.keys(FIELDS) as Section[];
  for (const key of Object.keys(raw)) {
    if (!sections.includes(key as Section)) {
      fail(`unknown field ${key} (the policy has ${sections.join(", ")})`);
    }
  }
  const policy = structuredClone(DEFAULT_PROCESSOR_POLICY) as ProcessorPolicy;
  for (const section of sections) {
    const given = raw[section];
    if (given === undefined || given === null) continue;
    if (!isObject(given)) fail(`${section}: expected an object`);
    const fields = FIELDS[section] as Record<string, "keys" | "boolean" | "quantity">;
    for (const [field, value] of Object.entries(given as Record<string, unknown>)) {
      const name = `${section}.${field}`;
      const kind = fields[field];
      if (!kind) fail(`unknown field ${name} (${section} has ${Object.keys(fields).join(", ")})`);
      if (value === null) continue; // Helm's way of saying "the default"
      const target = policy[section] as unknown as Record<string, unknown>;
      if (kind === "boolean") {
        if (typeof value !== "boolean") fail(`${name}: expected true or false, got ${JSON.stringify(value)}`);
        target[field] = value;
      } else if (kind === "quantity") {
        if ((typeof value !== "string" && typeof value !== "number") || !isQuantity(value)) {
          fail(`${name}: expected a quantity such as 500m, 4 or 8Gi, got ${JSON.stringify(value)}`);
        }
        if (String(value).trim().startsWith("-")) fail(`${name}: must not be negative, got ${value}`);
        target[field] = String(value).trim();
      } else {
        if (!Array.isArray(value) || !value.every((k) => typeof k === "string" && k.trim() !== "")) {
          fail(
            `${name}: expected a list of keys (exact, "*", or a prefix ending in "*"), got ${
              JSON.stringify(value)
            }`,
          );
        }
        target[field] = (value as string[]).map((k) => k.trim());
      }
    }
  }
  checkConsistency(policy, fail);
  return deepFreeze(policy);
}

/** Settings that contradict each other or the operator's own defaults. */
function checkConsistency(p: ProcessorPolicy, fail: (message: string) => never): void {
  for (const [field, name] of [["maxCpu", "cpu"], ["maxMemory", "memory"]] as const) {
    const fallback = DEFAULT_RESOURCES.limits[name];
    if (compareQuantities(p.resources[field], fallback)! < 0) {
      fail(
        `resources.${field}: ${p.resources[field]} is below ${fallback}, the ${name} limit of a processor ` +
          "whose DataFlow sets no spec.resources",
      );
    }
  }
  const standard = p.resources.allowedExtendedResources.find((r) => STANDARD_RESOURCES.includes(r));
  if (standard) {
    fail(
      `resources.allowedExtendedResources: ${standard} is not an extended resource (cpu and memory have ` +
        "resources.maxCpu and resources.maxMemory; ephemeral-storage is always allowed)",
    );
  }
  if (p.tolerations.allowExistsWithoutKey) {
    if (!p.tolerations.allowControlPlane || !p.tolerations.allowedKeys.includes("*")) {
      fail(
        "tolerations.allowExistsWithoutKey=true tolerates every taint, the control plane's too: it needs " +
          'tolerations.allowControlPlane=true and tolerations.allowedKeys=["*"]',
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The check

/** Whether `key` is matched by a list of exact keys, `*` and prefixes ending in `*`. */
export function keyAllowed(patterns: readonly string[], key: string): boolean {
  return patterns.some((p) => p === "*" || p === key || (p.endsWith("*") && key.startsWith(p.slice(0, -1))));
}

const list = (keys: readonly string[]) => `[${keys.join(", ")}]`;

/** A map key in a field path: `.cpu`, or `[nvidia.com/gpu]` when it is not a plain name. */
const mapKey = (key: string) => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${key}]`;

/** Node affinity operators that only keep a pod off nodes. */
const EXCLUDING_OPERATORS = ["NotIn", "DoesNotExist"];

/** The node-selecting keys of the node affinity (malformed parts are left to the API server). */
function nodeAffinityKeys(affinity: unknown): { field: string; key: string; kind: string }[] {
  const out: { field: string; key: string; kind: string }[] = [];
  const node = isObject(affinity) ? affinity.nodeAffinity : undefined;
  if (!isObject(node)) return out;
  const base = "spec.affinity.nodeAffinity";
  const fromTerm = (term: unknown, path: string) => {
    if (!isObject(term)) return;
    for (const [part, kind] of [["matchExpressions", "node label"], ["matchFields", "node field"]] as const) {
      const exprs = term[part];
      if (!Array.isArray(exprs)) continue;
      exprs.forEach((e, i) => {
        if (!isObject(e) || typeof e.key !== "string") return;
        if (EXCLUDING_OPERATORS.includes(e.operator as string)) return;
        out.push({ field: `${path}.${part}[${i}].key`, key: e.key, kind });
      });
    }
  };
  const required = node.requiredDuringSchedulingIgnoredDuringExecution;
  if (isObject(required) && Array.isArray(required.nodeSelectorTerms)) {
    required.nodeSelectorTerms.forEach((t, i) =>
      fromTerm(t, `${base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[${i}]`)
    );
  }
  const preferred = node.preferredDuringSchedulingIgnoredDuringExecution;
  if (Array.isArray(preferred)) {
    preferred.forEach((p, i) => {
      if (isObject(p)) {
        fromTerm(p.preference, `${base}.preferredDuringSchedulingIgnoredDuringExecution[${i}].preference`);
      }
    });
  }
  return out;
}

/**
 * Every rule of `policy` that `spec` breaks, in field order (nodeSelector, affinity, tolerations,
 * resources); empty when it complies. Pure: reads nothing else.
 */
export function checkPlacement(spec: DataFlowSpec, policy: ProcessorPolicy): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const refuse = (field: string, rule: string, setting: string, what: string) =>
    out.push({ field, rule, message: `${field}: ${what} (${rule}=${setting})` });

  const nodeKeys = policy.nodeSelector.allowedKeys;
  for (const key of Object.keys(spec.nodeSelector ?? {})) {
    if (!keyAllowed(nodeKeys, key)) {
      refuse(
        `spec.nodeSelector${mapKey(key)}`,
        "nodeSelector.allowedKeys",
        list(nodeKeys),
        `selecting nodes by label ${key} is not allowed`,
      );
    }
  }
  for (const { field, key, kind } of nodeAffinityKeys(spec.affinity)) {
    if (!keyAllowed(nodeKeys, key)) {
      refuse(
        field,
        "nodeSelector.allowedKeys",
        list(nodeKeys),
        `selecting nodes by ${kind} ${key} is not allowed`,
      );
    }
  }

  const t = policy.tolerations;
  (spec.tolerations ?? []).forEach((tol, i) => {
    const field = `spec.tolerations[${i}]`;
    const key = tol.key ?? "";
    if (!key) {
      if (tol.operator === "Exists" && !t.allowExistsWithoutKey) {
        refuse(
          field,
          "tolerations.allowExistsWithoutKey",
          "false",
          "operator Exists without a key tolerates every taint, the control plane's too, and is not allowed",
        );
      }
      return; // any other keyless toleration is invalid; the API server says so
    }
    if (CONTROL_PLANE_TAINT_KEYS.includes(key) && !t.allowControlPlane) {
      refuse(field, "tolerations.allowControlPlane", "false", `tolerating ${key} is not allowed`);
    } else if (!keyAllowed(t.allowedKeys, key)) {
      refuse(field, "tolerations.allowedKeys", list(t.allowedKeys), `tolerating taint ${key} is not allowed`);
    }
  });

  const r = policy.resources;
  const resources = spec.resources;
  for (const kind of ["requests", "limits"] as const) {
    for (const [name, q] of Object.entries(resources?.[kind] ?? {})) {
      const field = `spec.resources.${kind}${mapKey(name)}`;
      if (name === "cpu" || name === "memory") {
        const [rule, max] = name === "cpu"
          ? ["resources.maxCpu", r.maxCpu]
          : ["resources.maxMemory", r.maxMemory];
        const cmp = compareQuantities(q, max);
        if (cmp === undefined) refuse(field, rule, max, `${q} cannot be compared with the maximum`);
        else if (cmp > 0) refuse(field, rule, max, `${q} is more than the maximum ${max}`);
      } else if (!STANDARD_RESOURCES.includes(name) && !keyAllowed(r.allowedExtendedResources, name)) {
        refuse(
          field,
          "resources.allowedExtendedResources",
          list(r.allowedExtendedResources),
          `extended resource ${name} is not allowed`,
        );
      }
    }
  }
  if (resources && r.requireLimits) {
    for (const name of ["cpu", "memory"]) {
      if (resources.limits?.[name] === undefined) {
        refuse(
          `spec.resources.limits.${name}`,
          "resources.requireLimits",
          "true",
          `a ${name} limit is required`,
        );
      }
    }
  }
  return out;
}

/** The most violations one status message lists (the rest are counted). */
export const MAX_LISTED_VIOLATIONS = 10;

/**
 * The status message and Event text of a refused DataFlow:
 * `Refused by the operator's processor policy: spec.tolerations[0]: tolerating
 * node-role.kubernetes.io/control-plane is not allowed (tolerations.allowControlPlane=false)`.
 */
export function policyViolationMessage(violations: readonly PolicyViolation[]): string {
  const listed = violations.slice(0, MAX_LISTED_VIOLATIONS).map((v) => v.message);
  const more = violations.length - listed.length;
  return `Refused by the operator's processor policy: ${listed.join("; ")}${
    more > 0 ? `; and ${more} more` : ""
  }`;
}
