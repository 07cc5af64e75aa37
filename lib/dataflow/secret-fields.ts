/**
 * Which plain field each `*SecretRef` of the DataFlow API fills when the init container renders
 * the spec, derived from the zod schema (so a SecretRef added there is resolved without a list to
 * update). Its own module because it needs the schema: the operator loads it only for
 * `render-spec`.
 */
import { z } from "zod";
import { DataFlowSpecSchema } from "./schema.ts";

/** What a SecretRef's value becomes in the rendered spec (the Go operator's rules). */
export type SecretRefTarget =
  /** replaces the plain string field `<field>` */
  | "value"
  /** `brokers`: split on `,`, each part trimmed, empty parts dropped */
  | "list"
  /** TLS `cert`/`key`/`ca`: written to a file whose path goes into `<field>File` */
  | "file";

/** One `*SecretRef` field of the API, found in the schema. */
export interface SecretRefField {
  /** Its path with `[]` for list items: `spec.transformations[].router.routes[].sink.kafka.brokersSecretRef`. */
  path: string;
  /** The plain field its value fills: `brokers`, `connectionString`, `certFile`. */
  twin: string;
  target: SecretRefTarget;
}

const REF_SUFFIX = "SecretRef";
let refFields: SecretRefField[] | undefined;

/**
 * Every `*SecretRef` field of the DataFlow spec, from the zod schema (so a field added there is
 * covered without a list to update): `<x>SecretRef` fills its twin `<x>` (a list field is split
 * on commas), or, where the object has no `<x>` but an `<x>File` (TLS), a file at that path.
 * @throws Error when a SecretRef has neither twin (the schema needs a rule for it first)
 */
export function secretRefFields(): SecretRefField[] {
  if (refFields) return refFields;
  type Node = { type?: string; properties?: Record<string, Node>; items?: Node };
  const out: SecretRefField[] = [];
  const visit = (node: Node | undefined, path: string) => {
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node.properties ?? {})) {
      if (!k.endsWith(REF_SUFFIX)) {
        visit(v, `${path}.${k}`);
        continue;
      }
      const base = k.slice(0, -REF_SUFFIX.length);
      const plain = node.properties![base];
      if (plain) {
        out.push({ path: `${path}.${k}`, twin: base, target: plain.type === "array" ? "list" : "value" });
      } else if (node.properties![`${base}File`]) {
        out.push({ path: `${path}.${k}`, twin: `${base}File`, target: "file" });
      } else throw new Error(`${path}.${k} has no plain field ${base} or ${base}File to resolve into`);
    }
    if (node.items) visit(node.items, `${path}[]`);
  };
  visit(z.toJSONSchema(DataFlowSpecSchema, { io: "input" }) as Node, "spec");
  return refFields = out;
}

/** A concrete field path (`spec.transformations[0].router...`) in {@link SecretRefField.path}'s form. */
export function refFieldPattern(field: string): string {
  return field.replace(/\[\d+\]/g, "[]");
}
