/**
 * API request counts as the API server saw them: snapshots of its `/metrics`
 * `apiserver_request_total` (read with the admin client), their deltas, and the write and read
 * totals per verb and resource. Every request figure of the benchmarks comes from here, never
 * from the operator's own counters.
 */
import type { KubeClient } from "../../lib/kube/client.ts";

/** One series of apiserver_request_total. */
export interface RequestSeries {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  code: string;
}

/** Counts keyed by `VERB group/resource[/subresource] code`. */
export type RequestCounts = Map<string, number>;

/** Verbs that change state. */
export const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"]);

/**
 * The resources the DataFlow operator may write (the benchmarks' "operator writes"). Leases are not
 * among them: the benchmarks run without leader election except failover, and the API server
 * renews leases of its own in kube-system.
 */
export const OPERATOR_RESOURCES = new Set([
  "dataflow.dataflow.io/dataflows",
  "dataflow.dataflow.io/dataflows/status",
  "/configmaps",
  "apps/deployments",
  "/events",
  "events.k8s.io/events",
]);

function label(line: string, name: string): string {
  return line.match(new RegExp(`[{,]${name}="([^"]*)"`))?.[1] ?? "";
}

function keyOf(s: RequestSeries): string {
  const res = `${s.group}/${s.resource}${s.subresource ? "/" + s.subresource : ""}`;
  return `${s.verb} ${res} ${s.code}`;
}

/** Parses a key back into its parts. */
export function parseKey(key: string): RequestSeries {
  const [verb, path, code] = key.split(" ");
  const [group, resource, subresource = ""] = path.split("/");
  return { verb, group, resource, subresource, code };
}

/** The resource part of a key, e.g. `apps/deployments` or `/configmaps` or `dataflow.dataflow.io/dataflows/status`. */
export function resourceOf(key: string): string {
  return key.split(" ")[1];
}

/** Takes a snapshot of apiserver_request_total. */
export async function snapshotRequests(admin: KubeClient): Promise<RequestCounts> {
  const res = await admin.transport.request({ method: "GET", path: "/metrics" });
  const text = await res.text();
  const out: RequestCounts = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const key = keyOf({
      verb: label(line, "verb"),
      group: label(line, "group"),
      resource: label(line, "resource"),
      subresource: label(line, "subresource"),
      code: label(line, "code"),
    });
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

/** after − before, keeping only non-zero entries. */
export function diffRequests(before: RequestCounts, after: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const d = (after.get(k) ?? 0) - (before.get(k) ?? 0);
    if (d) out.set(k, d);
  }
  return out;
}

/** Sums the counts whose key passes `keep`. */
export function sumWhere(counts: RequestCounts, keep: (s: RequestSeries, key: string) => boolean): number {
  let n = 0;
  for (const [k, v] of counts) if (keep(parseKey(k), k)) n += v;
  return n;
}

/** Writes (any verb that changes state) on the operator's resources. */
export function operatorWrites(counts: RequestCounts): number {
  return sumWhere(counts, (s, k) => WRITE_VERBS.has(s.verb) && OPERATOR_RESOURCES.has(resourceOf(k)));
}

/** Writes on any other resource (the API server's own leases and the like). */
export function otherWrites(counts: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const [k, v] of counts) {
    if (WRITE_VERBS.has(parseKey(k).verb) && !OPERATOR_RESOURCES.has(resourceOf(k))) out.set(k, v);
  }
  return out;
}

/** The counts restricted to the operator's resources, grouped by `VERB resource` (codes summed or kept). */
export function byVerbResource(
  counts: RequestCounts,
  options: { writesOnly?: boolean; withCode?: boolean } = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of counts) {
    const s = parseKey(k);
    if (!OPERATOR_RESOURCES.has(resourceOf(k))) continue;
    if (options.writesOnly && !WRITE_VERBS.has(s.verb)) continue;
    if (s.verb === "WATCH") continue;
    const res = s.resource + (s.subresource ? "/" + s.subresource : "");
    const key = `${s.verb} ${res}${options.withCode ? ` ${s.code}` : ""}`;
    out[key] = (out[key] ?? 0) + v;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** "a 3, b 4" (or "none"). */
export function formatCounts(counts: Record<string, number>, per = 1): string {
  const e = Object.entries(counts);
  if (!e.length) return "none";
  return e.map(([k, v]) => `${k} ${per === 1 ? v : (v / per).toFixed(2)}`).join(", ");
}

/** Subtracts known writes made by the benchmark itself (e.g. its own DataFlow creates). */
export function subtract(
  counts: Record<string, number>,
  own: Record<string, number>,
): Record<string, number> {
  const out = { ...counts };
  for (const [k, v] of Object.entries(own)) {
    out[k] = (out[k] ?? 0) - v;
    if (out[k] === 0) delete out[k];
  }
  return out;
}
