/**
 * Label and field selectors as the API server reads them: label terms `k=v`, `k==v`, `k!=v`,
 * `k`, `!k`, `k in (a,b)`, `k notin (a,b)`; field terms `metadata.name` and `metadata.namespace`
 * with `=`, `==` and `!=`.
 */
import type { KubeObject } from "../../../lib/kube/client.ts";
import { Refusal } from "./responses.ts";

type Test = (value: string | undefined) => boolean;

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < selector.length; i++) {
    if (selector[i] === "(") depth++;
    else if (selector[i] === ")") depth--;
    else if (selector[i] === "," && depth === 0) {
      out.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  out.push(selector.slice(start));
  return out.map((t) => t.trim()).filter(Boolean);
}

function labelTerm(term: string): [string, Test] {
  let m = term.match(/^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/);
  if (m) {
    const values = new Set(m[3].split(",").map((v) => v.trim()));
    return m[2] === "in"
      ? [m[1], (v) => v !== undefined && values.has(v)]
      : [m[1], (v) => v === undefined || !values.has(v)];
  }
  m = term.match(/^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/);
  if (m) {
    const want = m[3];
    return m[2] === "!=" ? [m[1], (v) => v !== want] : [m[1], (v) => v === want];
  }
  if (term.startsWith("!")) return [term.slice(1).trim(), (v) => v === undefined];
  if (/^[^\s=!(),]+$/.test(term)) return [term, (v) => v !== undefined];
  throw new Refusal(400, "BadRequest", `unable to parse requirement: ${JSON.stringify(term)}`);
}

const FIELDS: Record<string, (o: KubeObject) => string | undefined> = {
  "metadata.name": (o) => o.metadata?.name,
  "metadata.namespace": (o) => o.metadata?.namespace ?? "",
};

function fieldTerm(term: string): (o: KubeObject) => boolean {
  const m = term.match(/^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/);
  const read = m && FIELDS[m[1]];
  if (!m || !read) {
    throw new Refusal(400, "BadRequest", `field label not supported: ${term.split(/[!=]/)[0]}`);
  }
  return m[2] === "!=" ? (o) => read(o) !== m[3] : (o) => read(o) === m[3];
}

/** A predicate for the objects a list or watch with these selectors returns; throws a 400 Refusal when unreadable. */
export function selectorFilter(labelSelector?: string, fieldSelector?: string): (o: KubeObject) => boolean {
  const labels = terms(labelSelector ?? "").map(labelTerm);
  const fields = terms(fieldSelector ?? "").map(fieldTerm);
  return (o) =>
    labels.every(([key, test]) => test(o.metadata?.labels?.[key])) && fields.every((test) => test(o));
}
