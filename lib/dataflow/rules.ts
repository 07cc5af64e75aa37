/**
 * Validation rules that OpenAPI cannot express ("a value or its SecretRef", "the block that
 * matches `type`"), written once and used twice: as a CEL `x-kubernetes-validations` entry in the
 * CRD (so the API server rejects the object, naming the field) and as a zod refinement (so the
 * reconciler rejects an object stored before the rule existed with the same message).
 */
import type { z } from "zod";

/** One rule on an object schema. */
export interface Rule<T> {
  /** The CEL expression, evaluated with `self` bound to the object. */
  cel: string;
  /** The message the API server and the reconcile-time check report. */
  message: string;
  /**
   * The field the message is about, relative to the object (e.g. `.brokers`), so the API server
   * reports `spec.source.kafka.brokers: Invalid value ...` rather than the whole object.
   */
  field?: string;
  /** The same rule in TypeScript, true when the object is valid. */
  check: (value: T) => boolean;
}

/** The shape of an `x-kubernetes-validations` entry. */
export interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
}

/** The metadata key under which the CEL rules ride on a zod schema until the CRD is generated. */
export const CEL_KEY = "x-kubernetes-validations";

/**
 * Attaches rules to an object schema: a zod `superRefine` reporting each failed rule at its field,
 * and the CEL rules as metadata that `z.toJSONSchema` copies into the generated schema.
 */
// deno-lint-ignore no-explicit-any
export function withRules<S extends z.ZodType<any>>(schema: S, rules: Rule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (rule.check(value)) continue;
      const path = rule.field ? rule.field.replace(/^\./, "").split(".") : [];
      ctx.addIssue({ code: "custom", message: rule.message, path });
    }
  }) as S;
  // Rules already attached (a map's key rule) are kept: metadata is per schema instance.
  const earlier = (schema.meta()?.[CEL_KEY] ?? []) as CelValidation[];
  const cel: CelValidation[] = [
    ...earlier,
    ...rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      ...(r.field ? { fieldPath: r.field } : {}),
    })),
  ];
  return refined.meta({ [CEL_KEY]: cel }) as S;
}

/** A non-empty string value. */
function present(v: unknown): boolean {
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  return v !== undefined && v !== null;
}

/**
 * "`field` or `fieldSecretRef` is required": the plain value must be non-empty (a string or a list)
 * unless its SecretRef twin is set.
 */
export function valueOrRef<T>(field: string): Rule<T> {
  const ref = `${field}SecretRef`;
  return {
    cel: `(has(self.${field}) && size(self.${field}) > 0) || has(self.${ref})`,
    message: `${field} or ${ref} is required`,
    field: `.${field}`,
    check: (v) =>
      present((v as Record<string, unknown>)[field]) || present((v as Record<string, unknown>)[ref]),
  };
}

/** "a `type: <t>` object needs its `<t>` block", one rule per allowed type. */
export function blockMatchesType<T>(types: readonly string[], what: string): Rule<T>[] {
  return types.map((t) => ({
    cel: `self.type != '${t}' || has(self.${t})`,
    message: `${t} ${what} configuration is required when type is ${t}`,
    field: `.${t}`,
    check: (v) => (v as { type?: string }).type !== t || present((v as Record<string, unknown>)[t]),
  }));
}

/**
 * "the `<t>` block only when type is `<t>`", one rule per allowed type: a block the type does not
 * use would be written to spec.json for nothing (and every block at its largest could not fit).
 */
export function onlyMatchingBlock<T>(types: readonly string[], what: string): Rule<T>[] {
  return types.map((t) => ({
    cel: `self.type == '${t}' || !has(self.${t})`,
    message: `${t} ${what} configuration is only allowed when type is ${t}`,
    field: `.${t}`,
    check: (v) => {
      const o = v as Record<string, unknown>;
      return o.type === t || o[t] === undefined || o[t] === null;
    },
  }));
}
