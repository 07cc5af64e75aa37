/**
 * What the end-to-end suite looks at, as a user or an SRE would: Prometheus text (the API
 * server's and the operator's), Events of an object, DataFlow status, and polling with a deadline.
 */
import type { ControlPlane } from "../controlplane/harness.ts";
import { clientFor } from "../controlplane/env.ts";

/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format (enough of it for counters and gauges). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2];
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels satisfy `where`. */
export function sumOf(
  samples: Sample[],
  name: string,
  where: (l: Record<string, string>) => boolean = () => true,
) {
  return samples.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0);
}

const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY"]);
/** The resources whose writes the idle checks count. */
export const WATCHED_RESOURCES = ["configmaps", "deployments", "events", "dataflows"];

/** Write requests the API server has served, per "resource[/subresource] VERB", from its /metrics. */
export async function apiserverWrites(cp: ControlPlane): Promise<Map<string, number>> {
  const res = await clientFor(cp).transport.request({ method: "GET", path: "/metrics" });
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  const counts = new Map<string, number>();
  for (const s of parsePrometheus(await res.text())) {
    if (s.name !== "apiserver_request_total") continue;
    if (!WRITE_VERBS.has(s.labels.verb) || !WATCHED_RESOURCES.includes(s.labels.resource)) continue;
    if (s.labels.dry_run) continue; // server-side dry runs persist nothing
    const key = `${s.labels.resource}${
      s.labels.subresource ? "/" + s.labels.subresource : ""
    } ${s.labels.verb}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

/** The entries of `after` that grew since `before` (key -> delta). */
export function grown(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of after) if (v > (before.get(k) ?? 0)) d[k] = v - (before.get(k) ?? 0);
  return d;
}

/** A core/v1 Event as kubectl returns it. */
export interface CoreEvent {
  type: string;
  reason: string;
  message: string;
  count?: number;
  series?: { count?: number };
  source?: { component?: string };
  reportingComponent?: string;
  involvedObject: { kind: string; name: string; uid?: string };
}

/** Events about one object (by name and kind) in a namespace. */
export async function eventsFor(cp: ControlPlane, namespace: string, name: string, kind = "DataFlow") {
  const out = await cp.kubectlOk([
    "get",
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.name=${name},involvedObject.kind=${kind}`,
    "-o",
    "json",
  ]);
  return (JSON.parse(out).items ?? []) as CoreEvent[];
}

/** How many times (summing coalesced counts) an Event with this reason was recorded. */
export function occurrences(events: CoreEvent[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce(
    (a, e) => a + Math.max(e.count ?? 1, e.series?.count ?? 0),
    0,
  );
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
