/**
 * A re-implementation of the API server's Event validation (`ValidateEventCreate` for core/v1
 * with `eventTime` set, plus the events.k8s.io name and type rules the recorder also keeps), used
 * as a last guard before every write and by the tests' fake API server. A body that fails here
 * is a recorder bug: it is logged and dropped, never sent.
 */
import {
  isDns1123Label,
  isDns1123Subdomain,
  isQualifiedName,
  MAX_FIELD_BYTES,
  MAX_MESSAGE_BYTES,
  utf8Length,
} from "./normalize.ts";

/** The core/v1 Event fields the recorder writes. */
export interface CoreEventBody {
  apiVersion: "v1";
  kind: "Event";
  metadata: { name: string; namespace: string };
  involvedObject: { apiVersion?: string; kind: string; name: string; namespace?: string; uid?: string };
  related?: { apiVersion?: string; kind: string; name: string; namespace?: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  eventTime: string;
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  action: string;
  [field: string]: unknown;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const SECOND_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/**
 * Returns the list of rule violations (empty when the server would accept the create). Each
 * names the field and the rule it breaks (docs/behaviour/events.md, "Field limits").
 */
export function validateEventBody(ev: CoreEventBody): string[] {
  const errors: string[] = [];
  const ns = ev.metadata?.namespace ?? "";
  const name = ev.metadata?.name ?? "";
  if (!isDns1123Subdomain(name)) {
    errors.push(`metadata.name ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  }
  if (!isDns1123Label(ns)) errors.push(`metadata.namespace ${JSON.stringify(ns)} is not a DNS-1123 label`);
  const involvedNs = ev.involvedObject?.namespace ?? "";
  if (involvedNs === "" && ns !== "default" && ns !== "kube-system") {
    errors.push(`cluster-scoped involvedObject but event namespace ${ns}`);
  }
  if (!ev.involvedObject?.kind || !ev.involvedObject?.name) errors.push("involvedObject needs kind and name");
  if (!isQualifiedName(ev.reportingComponent ?? "")) {
    errors.push("reportingComponent is not a qualified name");
  }
  const inst = utf8Length(ev.reportingInstance ?? "");
  if (inst === 0 || inst > MAX_FIELD_BYTES) {
    errors.push(`reportingInstance is ${inst} bytes, not 1-${MAX_FIELD_BYTES}`);
  }
  const action = utf8Length(ev.action ?? "");
  if (action === 0 || action > MAX_FIELD_BYTES) {
    errors.push(`action is ${action} bytes, not 1-${MAX_FIELD_BYTES}`);
  }
  const reason = utf8Length(ev.reason ?? "");
  if (reason === 0 || reason > MAX_FIELD_BYTES) {
    errors.push(`reason is ${reason} bytes, not 1-${MAX_FIELD_BYTES}`);
  }
  if (/\s/.test(ev.reason ?? "")) errors.push("reason contains whitespace");
  const message = utf8Length(ev.message ?? "");
  if (message > MAX_MESSAGE_BYTES) errors.push(`message is ${message} bytes, over ${MAX_MESSAGE_BYTES}`);
  if (ev.type !== "Normal" && ev.type !== "Warning") {
    errors.push(`type ${ev.type} is neither Normal nor Warning`);
  }
  if (!Number.isInteger(ev.count) || ev.count < 1 || ev.count > 2 ** 31 - 1) {
    errors.push(`count ${ev.count} is not an integer from 1 to 2^31-1`);
  }
  if (!MICRO_TIME.test(ev.eventTime ?? "")) {
    errors.push(`eventTime ${ev.eventTime} is not RFC 3339 with microseconds`);
  }
  if (!SECOND_TIME.test(ev.firstTimestamp ?? "")) {
    errors.push(`firstTimestamp ${ev.firstTimestamp} is not RFC 3339 to the second`);
  }
  if (!SECOND_TIME.test(ev.lastTimestamp ?? "")) {
    errors.push(`lastTimestamp ${ev.lastTimestamp} is not RFC 3339 to the second`);
  }
  if (ev.source?.component !== ev.reportingComponent) {
    errors.push("source.component differs from reportingComponent");
  }
  return errors;
}
