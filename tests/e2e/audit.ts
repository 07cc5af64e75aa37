/**
 * What the operator's ServiceAccount did, from the API server's audit log, against what RBAC
 * granted it, from the RBAC objects bound to it. Used by tests/audit (over the whole end-to-end
 * run) and by the install tests (one control plane each).
 */
import { readFileSync } from "node:fs";

/** One request, as the audit log (level Metadata) records it. */
export interface AuditedRequest {
  user: string;
  verb: string;
  /** "" for the core group. */
  apiGroup: string;
  /** The resource, with its subresource: `dataflows/status`. */
  resource: string;
  namespace?: string;
  name?: string;
  code: number;
  /** "allow" or "forbid" (the authorizer's decision). */
  decision?: string;
  uri: string;
}

/** Parses an audit log (JSON lines) into requests; non-resource requests (/api, /readyz) are dropped. */
export function parseAuditLog(text: string): AuditedRequest[] {
  const out: AuditedRequest[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    if (e.stage !== "ResponseComplete" || !e.objectRef?.resource) continue;
    const ref = e.objectRef;
    out.push({
      user: e.user?.username ?? "",
      verb: e.verb,
      apiGroup: ref.apiGroup ?? "",
      resource: ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource,
      namespace: ref.namespace,
      name: ref.name,
      code: e.responseStatus?.code ?? 0,
      decision: e.annotations?.["authorization.k8s.io/decision"],
      uri: e.requestURI,
    });
  }
  return out;
}

/** Reads an audit log file. */
export function readAuditLog(path: string): AuditedRequest[] {
  return parseAuditLog(readFileSync(path, "utf8"));
}

/** Requests the authorizer refused (403). */
export function forbidden(requests: AuditedRequest[]): AuditedRequest[] {
  return requests.filter((r) => r.decision === "forbid" || r.code === 403);
}

/** One verb on one resource granted by one rule of one role, where it applies. */
export interface Grant {
  /** `ClusterRole/<name>` or `Role/<name>` (the same key in every namespace it is bound in). */
  role: string;
  /** The namespace a Role grants in; undefined for a ClusterRole bound cluster-wide. */
  namespace?: string;
  apiGroup: string;
  resource: string;
  verb: string;
  /** Restricted to these names (empty: any). */
  resourceNames: string[];
  /**
   * Bound to the ServiceAccount itself (what the install grants), not to a group it is in (the
   * cluster's defaults for every authenticated user, e.g. system:basic-user's self-reviews).
   */
  own: boolean;
}

/** A stable text for a grant, the same in every control plane and namespace. */
export function grantKey(g: Grant): string {
  const names = g.resourceNames.length ? `[${g.resourceNames.join(",")}]` : "";
  return `${g.role}: ${g.verb} ${g.apiGroup || "core"}/${g.resource}${names}`;
}

// deno-lint-ignore no-explicit-any
type Obj = any;

/**
 * The grants RBAC gives `serviceAccount` (`namespace:name`) in a snapshot of the RBAC objects
 * (`kubectl get clusterroles,clusterrolebindings,roles,rolebindings -A -o json`): bindings naming
 * the ServiceAccount (`own`) and bindings to the groups every ServiceAccount is in; a RoleBinding
 * to a ClusterRole grants in its own namespace.
 */
export function grantsOf(snapshot: string, serviceAccount: string): Grant[] {
  const [saNs, saName] = serviceAccount.split(":");
  const items: Obj[] = JSON.parse(snapshot).items;
  // The groups every ServiceAccount token authenticates with.
  const groups = new Set([
    "system:authenticated",
    "system:serviceaccounts",
    `system:serviceaccounts:${saNs}`,
  ]);
  const names = (b: Obj, test: (s: Obj) => boolean) => (b.subjects ?? []).some(test);
  const isOwn = (b: Obj) =>
    names(b, (s) => s.kind === "ServiceAccount" && s.name === saName && s.namespace === saNs);
  const isGroup = (b: Obj) => names(b, (s) => s.kind === "Group" && groups.has(s.name));
  const roleRules = (kind: string, name: string, ns?: string): Obj[] =>
    items.find((i) =>
      i.kind === kind && i.metadata.name === name && (kind === "ClusterRole" || i.metadata.namespace === ns)
    )
      ?.rules ?? [];
  const out: Grant[] = [];
  const expand = (role: string, rules: Obj[], own: boolean, namespace?: string) => {
    for (const r of rules) {
      for (const apiGroup of r.apiGroups ?? []) {
        for (const resource of r.resources ?? []) {
          for (const verb of r.verbs ?? []) {
            out.push({
              role,
              namespace,
              apiGroup,
              resource,
              verb,
              resourceNames: r.resourceNames ?? [],
              own,
            });
          }
        }
      }
    }
  };
  for (const b of items) {
    const own = isOwn(b);
    if (!own && !isGroup(b)) continue;
    const { kind, name } = b.roleRef;
    if (b.kind === "ClusterRoleBinding") expand(`ClusterRole/${name}`, roleRules("ClusterRole", name), own);
    else expand(`${kind}/${name}`, roleRules(kind, name, b.metadata.namespace), own, b.metadata.namespace);
  }
  return out;
}

/** Whether `g` authorises `r` (RBAC's matching: group, resource, verb, namespace, names). */
export function authorises(g: Grant, r: AuditedRequest): boolean {
  return (g.apiGroup === "*" || g.apiGroup === r.apiGroup) &&
    (g.resource === "*" || g.resource === r.resource) &&
    (g.verb === "*" || g.verb === r.verb) &&
    (g.namespace === undefined || g.namespace === r.namespace) &&
    (!g.resourceNames.length || (r.name !== undefined && g.resourceNames.includes(r.name)));
}
