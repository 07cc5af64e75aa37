/**
 * Resource types and their REST paths. A {@link ResourceType} says where a kind lives; the
 * built-in kinds an operator usually needs are registered here, and any other kind (a custom
 * resource included) is either declared with {@link resourceType} or found through
 * {@link discoverResource}. No code generation is needed.
 */

/** Where a kind is served. */
export interface ResourceType {
  /** `v1` for the core group, else `group/version`. */
  readonly apiVersion: string;
  /** The kind, e.g. `Deployment`. */
  readonly kind: string;
  /** The lower-case plural resource name, e.g. `deployments`. */
  readonly plural: string;
  /** Whether objects live in a namespace. */
  readonly namespaced: boolean;
}

/** Declares a resource type (e.g. a custom resource). */
export function resourceType(
  apiVersion: string,
  kind: string,
  plural: string,
  namespaced = true,
): ResourceType {
  return Object.freeze({ apiVersion, kind, plural, namespaced });
}

/** The API group of an apiVersion ("" for the core group). */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf("/");
  return i < 0 ? "" : apiVersion.slice(0, i);
}

/** The kinds {@link builtin} declares. */
export type BuiltinKind =
  | "Namespace"
  | "ConfigMap"
  | "Secret"
  | "ServiceAccount"
  | "Pod"
  | "Service"
  | "Event"
  | "Node"
  | "EventsV1"
  | "Deployment"
  | "Lease"
  | "CustomResourceDefinition"
  | "ClusterRole"
  | "ClusterRoleBinding"
  | "Role"
  | "RoleBinding"
  | "SelfSubjectAccessReview";

/** Built-in kinds used across the toolkit. */
export const builtin: Readonly<Record<BuiltinKind, ResourceType>> = {
  Namespace: resourceType("v1", "Namespace", "namespaces", false),
  ConfigMap: resourceType("v1", "ConfigMap", "configmaps"),
  Secret: resourceType("v1", "Secret", "secrets"),
  ServiceAccount: resourceType("v1", "ServiceAccount", "serviceaccounts"),
  Pod: resourceType("v1", "Pod", "pods"),
  Service: resourceType("v1", "Service", "services"),
  Event: resourceType("v1", "Event", "events"),
  Node: resourceType("v1", "Node", "nodes", false),
  EventsV1: resourceType("events.k8s.io/v1", "Event", "events"),
  Deployment: resourceType("apps/v1", "Deployment", "deployments"),
  Lease: resourceType("coordination.k8s.io/v1", "Lease", "leases"),
  CustomResourceDefinition: resourceType(
    "apiextensions.k8s.io/v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    false,
  ),
  ClusterRole: resourceType("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
  ClusterRoleBinding: resourceType(
    "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
    false,
  ),
  Role: resourceType("rbac.authorization.k8s.io/v1", "Role", "roles"),
  RoleBinding: resourceType("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
  SelfSubjectAccessReview: resourceType(
    "authorization.k8s.io/v1",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    false,
  ),
};

/** Finds a built-in type by apiVersion and kind. */
export function builtinFor(apiVersion: string, kind: string): ResourceType | undefined {
  return Object.values(builtin).find((r) => r.apiVersion === apiVersion && r.kind === kind);
}

/** Whether strategic merge patch is available (built-in kinds only; CRDs answer 415). */
export function supportsStrategicMerge(rt: ResourceType): boolean {
  return builtinFor(rt.apiVersion, rt.kind) !== undefined;
}

/**
 * The REST path of a collection or an object.
 * @param namespace required for namespaced kinds unless listing across all namespaces
 */
export function resourcePath(
  rt: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = rt.apiVersion.includes("/") ? `/apis/${rt.apiVersion}` : `/api/${rt.apiVersion}`;
  let path = base;
  if (rt.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  else if (rt.namespaced && name) throw new TypeError(`${rt.kind} ${name}: a namespace is required`);
  path += `/${rt.plural}`;
  if (name !== undefined) {
    if (!name) throw new TypeError(`${rt.kind}: an empty name is not allowed`);
    path += `/${encodeURIComponent(name)}`;
  }
  if (subresource) path += `/${subresource}`;
  return path;
}

/** The subset of an APIResourceList the discovery lookup needs. */
interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Finds the resource type of `apiVersion`/`kind` through discovery (`GET /apis/<gv>`), for kinds
 * that are neither built in nor declared.
 * @param getJson performs a GET and returns the parsed body (a KubeClient's `getRaw`)
 */
export async function discoverResource(
  getJson: (path: string) => Promise<unknown>,
  apiVersion: string,
  kind: string,
): Promise<ResourceType> {
  const known = builtinFor(apiVersion, kind);
  if (known) return known;
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const list = (await getJson(base)) as ApiResourceList;
  const found = list.resources.find((r) => r.kind === kind && !r.name.includes("/"));
  if (!found) throw new Error(`discovery: ${apiVersion} serves no kind ${kind}`);
  return resourceType(apiVersion, kind, found.name, found.namespaced);
}
