/**
 * The largest DataFlow spec the API server admits, built from the generated CRD schema itself (not
 * from schema.ts's constants): every optional property present, every string at its maxLength of
 * `x` (ASCII that JSON does not escape), every integer at its widest value, every list at maxItems,
 * every map at maxProperties with keys at the length its key rule allows. Where a `type` field
 * picks one block (source, sinks, transformations), the largest variant is taken. The chain totals
 * (routes, field names and condition characters across all transformations) are spent where they
 * weigh most: every route in one router, every field name in one mask, the conditions in the
 * routes, the remaining transformations of the largest kind that spends none of the totals.
 *
 * `affinity` is the exception: it keeps unknown fields, which CEL cannot see, so the CRD bounds only
 * its keys; the largest spec carries each allowed key with an empty object.
 */
import { crdManifest } from "../../../lib/dataflow/crd.ts";

// deno-lint-ignore no-explicit-any
type Node = Record<string, any>;
export type Json = unknown;

/** The openAPIV3Schema of `spec` in the generated CRD. */
export function specSchema(): Node {
  // deno-lint-ignore no-explicit-any
  return (crdManifest() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec;
}

const size = (v: Json) => new TextEncoder().encode(JSON.stringify(v)).length;

/** The CEL rules of a node. */
function rules(node: Node): { rule: string; message: string }[] {
  return node["x-kubernetes-validations"] ?? [];
}

/** The key length a map's `self.all(k, size(k) <= N)` rule allows. */
function keyLimit(node: Node, path: string): number {
  for (const r of rules(node)) {
    const m = /^self\.all\(k, size\(k\) <= (\d+)\)$/.exec(r.rule);
    if (m) return Number(m[1]);
  }
  throw new Error(`${path}: a map without a key length rule`);
}

/** `<total>` of a chain rule whose message starts with `prefix`. */
function total(node: Node, pattern: RegExp): number {
  for (const r of rules(node)) {
    const m = pattern.exec(r.message);
    if (m) return Number(m[1]);
  }
  throw new Error(`no chain rule matches ${pattern}`);
}

function need(value: unknown, what: string, path: string): number {
  if (typeof value !== "number") throw new Error(`${path}: no ${what}`);
  return value;
}

function largestString(node: Node, path: string): string {
  if (node.enum) return (node.enum as string[]).reduce((a, b) => (b.length > a.length ? b : a));
  const max = need(node.maxLength, "maxLength", path);
  const s = "9".repeat(max);
  if (node.pattern) {
    if (!new RegExp(node.pattern).test(s)) {
      throw new Error(`${path}: cannot build a value for ${node.pattern}`);
    }
    return s;
  }
  return "x".repeat(max);
}

function largestInteger(node: Node, path: string): number {
  if (node.format === "int32") return node.minimum === 0 ? 2147483647 : -2147483648;
  if (node.format === "int64") return node.minimum === 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
  throw new Error(`${path}: an integer without int32/int64 format`);
}

/** The largest value `node` admits. */
export function largest(node: Node, path: string): Json {
  if (node["x-kubernetes-int-or-string"]) return largestString(node, path);
  if (node["x-kubernetes-preserve-unknown-fields"]) {
    // Opaque (affinity): only its keys are bounded. Its real keys, empty.
    need(node.maxProperties, "maxProperties", path);
    return { nodeAffinity: {}, podAffinity: {}, podAntiAffinity: {} };
  }
  switch (node.type) {
    case "string":
      return largestString(node, path);
    case "integer":
      return largestInteger(node, path);
    case "boolean":
      return false;
    case "array": {
      if (path === "spec.transformations") return largestChain(node);
      const max = need(node.maxItems, "maxItems", path);
      const item = largest(node.items, `${path}[]`);
      return Array.from({ length: max }, () => structuredClone(item));
    }
    case "object":
      if (node.additionalProperties) {
        const max = need(node.maxProperties, "maxProperties", path);
        const keyMax = keyLimit(node, path);
        const value = largest(node.additionalProperties, `${path}{}`);
        return Object.fromEntries(
          Array.from({ length: max }, (_, i) => [`k${i}`.padEnd(keyMax, "x"), structuredClone(value)]),
        );
      }
      return largestObject(node, path);
  }
  throw new Error(`${path}: unexpected schema ${JSON.stringify(node).slice(0, 120)}`);
}

/** The block-per-type variants of an object whose `type` picks one block, else undefined. */
function variants(node: Node): string[] | undefined {
  const types = node.properties?.type?.enum as string[] | undefined;
  if (!types || !types.every((t) => node.properties[t])) return undefined;
  const only = types.every((t) =>
    rules(node).some((r) => r.rule === `self.type == '${t}' || !has(self.${t})`)
  );
  return only ? types : undefined;
}

function largestObject(node: Node, path: string, type?: string): Json {
  const props = (node.properties ?? {}) as Record<string, Node>;
  const types = variants(node);
  if (types && type === undefined) {
    return types.map((t) => largestObject(node, path, t)).reduce((a, b) => (size(b) > size(a) ? b : a));
  }
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(props)) {
    if (types?.includes(k) && k !== type) continue;
    out[k] = k === "type" && type ? type : largest(v, `${path}.${k}`);
  }
  return out;
}

/**
 * The chain at maxItems within its totals: one router holding every route allowed (each condition
 * as long as the conditions total permits), one mask naming every field allowed, and the rest of
 * the largest kind that uses none of the totals.
 */
function largestChain(node: Node): Json[] {
  const path = "spec.transformations";
  const max = need(node.maxItems, "maxItems", path);
  const item = node.items as Node;
  const routeTotal = total(node, /at most (\d+) routes/);
  const fieldTotal = total(node, /at most (\d+) fields/);
  const conditionTotal = total(node, /at most (\d+) characters/);
  const props = item.properties as Record<string, Node>;

  const routes = props.router.properties.routes as Node;
  const routeCount = Math.min(routeTotal, need(routes.maxItems, "maxItems", `${path}[].router.routes`));
  const route = largest(routes.items, `${path}[].router.routes[]`) as { condition: string };
  const conditionLength = Math.min(route.condition.length, Math.floor(conditionTotal / routeCount));
  route.condition = route.condition.slice(0, conditionLength);
  const router = {
    type: "router",
    router: { routes: Array.from({ length: routeCount }, () => structuredClone(route)) },
  };

  const mask = largestObject(item, `${path}[]`, "mask") as { mask: { fields: string[] } };
  mask.mask.fields = mask.mask.fields.slice(0, fieldTotal);

  // The totals are spent: the rest may not route, name fields or filter.
  const free = (item.properties.type.enum as string[]).filter(
    (t) => !["router", "mask", "select", "remove", "filter"].includes(t),
  );
  const rest = free.map((t) => largestObject(item, `${path}[]`, t)).reduce((
    a,
    b,
  ) => (size(b) > size(a) ? b : a));
  return [router, mask, ...Array.from({ length: max - 2 }, () => structuredClone(rest))];
}

/** The largest admissible spec. */
export function worstCaseSpec(): Record<string, Json> {
  return largest(specSchema(), "spec") as Record<string, Json>;
}

/**
 * Every string, list and map of the schema that lacks its bound (maxLength/enum, maxItems,
 * maxProperties and a key rule), as paths; opaque objects only need maxProperties.
 */
export function unbounded(node: Node = specSchema(), path = "spec"): string[] {
  const out: string[] = [];
  if (node["x-kubernetes-int-or-string"]) {
    if (node.maxLength === undefined) out.push(path);
    return out;
  }
  if (node["x-kubernetes-preserve-unknown-fields"]) {
    if (node.maxProperties === undefined) out.push(path);
    return out;
  }
  if (node.type === "string" && node.maxLength === undefined && !node.enum) out.push(path);
  if (node.type === "array") {
    if (node.maxItems === undefined) out.push(path);
    out.push(...unbounded(node.items, `${path}[]`));
  }
  if (node.type === "object" && node.additionalProperties) {
    if (node.maxProperties === undefined) out.push(path);
    if (!rules(node).some((r) => /^self\.all\(k, size\(k\) <= \d+\)$/.test(r.rule))) {
      out.push(`${path} (keys)`);
    }
    out.push(...unbounded(node.additionalProperties, `${path}{}`));
  }
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    out.push(...unbounded(v, `${path}.${k}`));
  }
  return out;
}
