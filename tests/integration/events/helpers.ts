/**
 * Shared pieces of the event recorder's integration tests: a Transport wrapper that counts every
 * request and its status (a counting proxy between the recorder and the real API server), the
 * API server's own request counters for `events` from /metrics, and a small namespaced CRD.
 */
import type { KubeClient } from "../../../lib/kube/client.ts";
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";

/** One request seen by {@link CountingTransport}. */
export interface CountedRequest {
  method: string;
  path: string;
  status: number;
  body?: string;
}

/** Passes requests through and records method, path and status of each. */
export class CountingTransport implements Transport {
  readonly seen: CountedRequest[] = [];
  readonly inner: Transport;
  constructor(inner: Transport) {
    this.inner = inner;
  }
  get server(): string {
    return this.inner.server;
  }
  async request(req: KubeRequest): Promise<Response> {
    const entry: CountedRequest = { method: req.method, path: req.path, status: 0, body: req.body };
    this.seen.push(entry);
    const res = await this.inner.request(req);
    entry.status = res.status;
    return res;
  }
  close(): void {
    this.inner.close();
  }
  /** Requests to an events collection or object, optionally of one method. */
  eventCalls(method?: string): CountedRequest[] {
    return this.seen.filter((r) => /\/events(\/|$)/.test(r.path) && (!method || r.method === method));
  }
}

/**
 * The API server's `apiserver_request_total` for core `events`, summed per verb (POST, PATCH, ...).
 * Other clients of a shared control plane add to these too, so tests use them as a lower bound.
 */
export async function serverEventCalls(admin: KubeClient): Promise<Record<string, number>> {
  const res = await admin.transport.request({ method: "GET", path: "/metrics" });
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    if (!line.includes('resource="events"') || !line.includes('group=""')) continue;
    const verb = line.match(/verb="([A-Z]+)"/)?.[1] ?? "?";
    out[verb] = (out[verb] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

/** Difference of two {@link serverEventCalls} snapshots. */
export function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

/** The small namespaced CRD of these tests. */
export const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.events-test.example.com
spec:
  group: events-test.example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;

/** A cluster-scoped CRD (kubectl's Namespace describer shows no events; the generic one does). */
export const GADGET_CRD = WIDGET_CRD.replaceAll("widgets", "gadgets").replaceAll("widget", "gadget")
  .replace("kind: Widget", "kind: Gadget").replace("scope: Namespaced", "scope: Cluster");

/** Installs the namespaced Widget and cluster-scoped Gadget CRDs (idempotent) and waits until they are served. */
export async function installWidgetCrd(cp: ControlPlane): Promise<void> {
  await cp.kubectlOk(["apply", "-f", "-"], { input: `${WIDGET_CRD}---\n${GADGET_CRD}` });
  await cp.kubectlOk([
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd/widgets.events-test.example.com",
    "crd/gadgets.events-test.example.com",
  ]);
}

/** `kubectl get <args> -o json`, parsed. */
export async function kubectlJson<T = Record<string, unknown>>(cp: ControlPlane, args: string[]): Promise<T> {
  return JSON.parse(await cp.kubectlOk([...args, "-o", "json"])) as T;
}

/** Minimal view of a core/v1 Event as kubectl returns it. */
export interface ServerEvent {
  metadata: { name: string; namespace: string };
  involvedObject: { kind: string; name: string; namespace?: string; uid?: string; apiVersion?: string };
  reason: string;
  /** Absent when empty (the API server omits empty strings). */
  message?: string;
  type: string;
  count: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  reportingComponent?: string;
  reportingInstance?: string;
  action?: string;
  source?: { component?: string };
}
