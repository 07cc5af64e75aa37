/**
 * Installs what the operator needs into a control plane exactly as a user would from deploy/:
 * the CRD, then deploy/rbac.yaml (the operator's namespace, ServiceAccount and RBAC). Returns the
 * ServiceAccount's identity (a TokenRequest token in its own kubeconfig), so the operator runs
 * with precisely the permissions deploy/rbac.yaml grants and nothing else.
 */
import { join } from "node:path";
import type { ControlPlane, Identity } from "../controlplane/harness.ts";
import { repoRoot } from "./manifests.ts";
import { waitFor } from "../tools/wait.ts";

/** The operator's namespace and ServiceAccount, as deploy/ names them. */
export const OPERATOR_NAMESPACE = "dataflow-system";
/** The operator's ServiceAccount name. */
export const OPERATOR_SERVICE_ACCOUNT = "dataflow-operator";
/** The CRD's name. */
export const CRD_NAME = "dataflows.dataflow.dataflow.io";

/** Applies deploy/crd.yaml (server-side, idempotent) and waits until the API serves DataFlows. */
export async function installCrd(cp: ControlPlane): Promise<void> {
  await cp.kubectlOk([
    "apply",
    "--server-side",
    "--force-conflicts",
    "-f",
    join(repoRoot, "deploy", "crd.yaml"),
  ]);
  await waitForCrdEstablished(cp);
}

/** Waits until the API server serves DataFlows (the CRD's Established condition), 60 s at most. */
export async function waitForCrdEstablished(cp: ControlPlane): Promise<void> {
  // Polled rather than `kubectl wait`, which fails outright while the CRD has no conditions yet.
  await waitFor(`CRD ${CRD_NAME} Established`, async () => {
    const r = await cp.kubectl([
      "get",
      "crd",
      CRD_NAME,
      "-o",
      'jsonpath={.status.conditions[?(@.type=="Established")].status}',
    ]);
    return r.stdout.trim() === "True";
  }, { timeoutMs: 60_000, intervalMs: 200 });
}

/**
 * Installs the CRD and deploy/rbac.yaml, and returns the ServiceAccount's identity (token valid
 * for `seconds`).
 */
export async function installOperatorIdentity(cp: ControlPlane, seconds = 7200): Promise<Identity> {
  await installCrd(cp);
  // rbac.yaml creates the namespace and the ServiceAccount first, as a user's apply would.
  await cp.kubectlOk(["apply", "-f", join(repoRoot, "deploy", "rbac.yaml")]);
  const identity = await cp.serviceAccountToken(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, seconds);
  // RBAC is served from the authorizer's watch cache: wait until the grant is visible.
  const sa = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
  await waitFor(`deploy/rbac.yaml's grant of watch on dataflows to ${sa}`, async () => {
    const r = await cp.kubectl([
      "auth",
      "can-i",
      "watch",
      "dataflows.dataflow.dataflow.io",
      "-A",
      `--as=${sa}`,
    ]);
    return r.stdout.trim() === "yes";
  }, { timeoutMs: 30_000, intervalMs: 200 });
  return identity;
}
