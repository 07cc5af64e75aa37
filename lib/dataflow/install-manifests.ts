/**
 * What `dataflow-operator manifests` prints: the CRD, the operator's identity and RBAC, and its
 * Deployment, in an order `kubectl apply -f -` accepts on a fresh cluster (Namespace first).
 *
 * Cluster mode (no namespaces): deploy/crd.yaml, deploy/rbac.yaml and deploy/operator.yaml as
 * they are. Namespaced mode (`--namespaces a,b`): the ClusterRole's rules become a Role and
 * RoleBinding in each listed namespace, no ClusterRole is printed, and the operator is started
 * with `--namespace=a,b`. The Lease Role stays in the operator's namespace; when that namespace is
 * not listed, one more Role lets the operator watch its own Deployment there (by name only).
 */
import { type Document, parseAllDocuments, stringify } from "yaml";
import { crdYaml } from "./crd.ts";
import { OPERATOR_YAML, RBAC_YAML } from "./manifests.generated.ts";

/** Options of {@link installManifests}. */
export interface InstallManifestsOptions {
  /** Namespaced mode: watch and grant only these namespaces (must exist). Empty: cluster mode. */
  namespaces?: string[];
}

// deno-lint-ignore no-explicit-any
type Manifest = any;

function docs(text: string): Document[] {
  return parseAllDocuments(text).filter((d) => d.contents !== null) as Document[];
}

function kindOf(doc: Document): string {
  return String(doc.get("kind"));
}

/** The manifests for `dataflow-operator manifests [--namespaces a,b]` as one YAML stream. */
export function installManifests(options: InstallManifestsOptions = {}): string {
  const namespaces = options.namespaces ?? [];
  if (!namespaces.length) {
    return [crdYaml(), RBAC_YAML, OPERATOR_YAML].map((p) => p.trimEnd() + "\n").join("---\n");
  }
  const rbac = docs(RBAC_YAML);
  // rbac.yaml's leading comment describes the cluster mode; the header below replaces it.
  rbac[0].commentBefore = null;
  const clusterRole = rbac.find((d) => kindOf(d) === "ClusterRole")!.toJS() as Manifest;
  const sa = rbac.find((d) => kindOf(d) === "ServiceAccount")!.toJS() as Manifest;
  const operatorNs: string = sa.metadata.namespace;
  const subject = { kind: "ServiceAccount", name: sa.metadata.name, namespace: operatorNs };
  const labels = clusterRole.metadata.labels;
  const roleWithBinding = (name: string, namespace: string, rules: Manifest[]): Manifest[] => [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace, labels },
      rules,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [subject],
    },
  ];

  const operator = docs(OPERATOR_YAML);
  const deployment = operator.find((d) => kindOf(d) === "Deployment")!;
  const deploymentName = String(deployment.getIn(["metadata", "name"]));
  const generated: Manifest[] = namespaces.flatMap((ns) =>
    roleWithBinding(clusterRole.metadata.name, ns, clusterRole.rules)
  );
  if (!namespaces.includes(operatorNs)) {
    // The operator watches its own Deployment (a change re-reconciles every DataFlow).
    generated.push(...roleWithBinding(`${clusterRole.metadata.name}-self`, operatorNs, [{
      apiGroups: ["apps"],
      resources: ["deployments"],
      resourceNames: [deploymentName],
      verbs: ["list", "watch"],
    }]));
  }
  deployment.addIn(
    ["spec", "template", "spec", "containers", 0, "args"],
    `--namespace=${namespaces.join(",")}`,
  );

  const header =
    `# Namespaced mode: the operator watches ${
      namespaces.join(", ")
    } only, and is granted nothing elsewhere\n` +
    `# but its Lease${namespaces.includes(operatorNs) ? "" : " and its own Deployment"} in ${operatorNs}. ` +
    `The listed namespaces must exist.\n`;
  const parts = [
    crdYaml(),
    header + rbac.filter((d) => !/^ClusterRole/.test(kindOf(d))).map((d) => d.toString()).join("---\n"),
    ...generated.map((o) => stringify(o)),
    operator.map((d) => d.toString()).join("---\n"),
  ];
  return parts.map((p) => p.trimEnd() + "\n").join("---\n");
}
