/**
 * The API server's Event rules, written from the server's validation (not from the recorder's own
 * guard, so a recorder test against the fake checks the recorder rather than itself), as
 * tests/integration/events/server-rules.test.ts establishes them against a real kube-apiserver
 * (docs/behaviour/events.md, "Field limits"):
 * - core/v1 without `eventTime` (the lenient path of old clients): only the namespaces must agree;
 * - core/v1 with `eventTime`: reason, action and reportingInstance 1-128 bytes, message at most
 *   1024 bytes (UTF-8 bytes, not characters), reportingComponent a qualified name, a
 *   cluster-scoped involved object only in `default` or `kube-system`; any type;
 * - events.k8s.io/v1 creates: all of that plus a DNS-1123 subdomain name, `type` Normal or
 *   Warning, `eventTime` required and the deprecated fields unset.
 * Both APIs serve the same stored Events; {@link toEventsV1} and {@link fromEventsV1} map the fields.
 */
import type { KubeObject } from "../../../lib/kube/client.ts";
import { Refusal, type StatusCause } from "./responses.ts";

const bytes = (s: unknown) => new TextEncoder().encode(typeof s === "string" ? s : "").length;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function isQualifiedName(s: unknown): boolean {
  if (typeof s !== "string") return false;
  const parts = s.split("/");
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  const prefixOk = parts.length === 1 || (parts[0].length <= 253 && DNS_SUBDOMAIN.test(parts[0]));
  return prefixOk && name.length <= 63 && QUALIFIED_NAME.test(name);
}

type Ev = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string };
  involvedObject?: { namespace?: string };
};

/** The legacy checks every core/v1 Event create and update passes (the server's `legacyValidateEvent`). */
function legacyProblems(ev: Ev): StatusCause[] {
  const out: StatusCause[] = [];
  const bad = (field: string, message: string) => out.push({ reason: "FieldValueInvalid", field, message });
  const ns = ev.metadata?.namespace ?? "";
  const involvedNs = ev.involvedObject?.namespace ?? "";
  if (!ev.eventTime) {
    if (involvedNs === "" ? ns !== "" && ns !== "default" : ns !== involvedNs) {
      bad("involvedObject.namespace", "does not match event.namespace");
    }
  } else {
    if (involvedNs === "" && ns !== "default" && ns !== "kube-system") {
      bad("involvedObject.namespace", "does not match event.namespace");
    }
    if (!isQualifiedName(ev.reportingComponent)) bad("reportingComponent", "must be a qualified name");
    const inst = bytes(ev.reportingInstance);
    if (inst === 0 || inst > 128) bad("reportingInstance", "must be 1-128 characters");
    const action = bytes(ev.action);
    if (action === 0 || action > 128) bad("action", "must be 1-128 characters");
    const reason = bytes(ev.reason);
    if (reason === 0 || reason > 128) bad("reason", "must be 1-128 characters");
    if (bytes(ev.message) > 1024) bad("message", "can have at most 1024 characters");
  }
  if (!DNS_SUBDOMAIN.test(ns) || !DNS_LABEL.test(ns)) bad("metadata.namespace", "must be a DNS-1123 label");
  return out;
}

/** The strict checks of an events.k8s.io/v1 create, on the Event in its core form. */
function strictProblems(ev: Ev): StatusCause[] {
  const out = legacyProblems(ev);
  const bad = (field: string, message: string) => out.push({ reason: "FieldValueInvalid", field, message });
  if (!DNS_SUBDOMAIN.test(ev.metadata?.name ?? "")) bad("metadata.name", "must be a DNS-1123 subdomain");
  if (!ev.eventTime) {
    out.push({ reason: "FieldValueRequired", field: "eventTime", message: "Required value" });
  }
  if (ev.type !== "Normal" && ev.type !== "Warning") bad("type", `has invalid value: ${ev.type}`);
  for (const f of ["firstTimestamp", "lastTimestamp", "count", "source"] as const) {
    if (ev[f] !== undefined) bad(f, "needs to be unset");
  }
  return out;
}

function refuse(ev: Ev, causes: StatusCause[]): void {
  if (!causes.length) return;
  const name = ev.metadata?.name ?? "";
  const list = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
  throw new Refusal(422, "Invalid", `Event "${name}" is invalid: [${list}]`, { name, kind: "Event", causes });
}

/** Throws the server's 422 Invalid for a core-form Event it would refuse; `strict` for events.k8s.io/v1 creates. */
export function checkEvent(ev: KubeObject, strict: boolean): void {
  const e = ev as Ev;
  refuse(e, strict ? strictProblems(e) : legacyProblems(e));
}

/** Field renames between core/v1 (left) and events.k8s.io/v1 (right). */
const RENAMED: [string, string][] = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["reportingComponent", "reportingController"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
];

function rename(obj: KubeObject, from: 0 | 1, apiVersion: string): KubeObject {
  const out: Record<string, unknown> = { ...obj, apiVersion, kind: "Event" };
  for (const pair of RENAMED) {
    const [src, dst] = [pair[from], pair[1 - from]];
    delete out[src];
    if ((obj as Record<string, unknown>)[src] !== undefined) out[dst] = (obj as Record<string, unknown>)[src];
  }
  return out as KubeObject;
}

/** A stored (core/v1) Event as events.k8s.io/v1 serves it. */
export function toEventsV1(ev: KubeObject): KubeObject {
  return rename(ev, 0, "events.k8s.io/v1");
}

/** An events.k8s.io/v1 Event in the stored core/v1 form. */
export function fromEventsV1(ev: KubeObject): KubeObject {
  return rename(ev, 1, "v1");
}
