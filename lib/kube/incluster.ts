/**
 * In-cluster configuration: the API server from KUBERNETES_SERVICE_HOST/PORT, the service-account
 * token (re-read as the kubelet rotates it), its CA, and the namespace from POD_NAMESPACE or the
 * service-account directory.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { tokenFileCredentials } from "./credentials.ts";
import { ConfigError } from "./errors.ts";
import type { ResolvedConfig } from "./kubeconfig.ts";
import { checkCertificates } from "./pem.ts";

/** The `source` of an in-cluster configuration (how callers tell "running in a pod"). */
export const IN_CLUSTER_SOURCE = "in-cluster service account";

/** Where Kubernetes mounts the service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Whether the environment looks like a pod (both service variables set). */
export function isInCluster(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/** Builds the in-cluster configuration; `dir` overrides the service-account directory (tests). */
export async function inClusterConfig(
  options: { env?: Record<string, string | undefined>; dir?: string; tokenRefreshMs?: number } = {},
): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const dir = options.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST, port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ConfigError(
      "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set",
    );
  }
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const tokenPath = join(dir, "token");
  if (!existsSync(tokenPath)) {
    throw new ConfigError(`in-cluster: service-account token ${tokenPath} does not exist`);
  }
  let ca: string;
  try {
    ca = await readFile(join(dir, "ca.crt"), "utf8");
  } catch {
    throw new ConfigError(`in-cluster: cannot read the service-account CA ${join(dir, "ca.crt")}`);
  }
  checkCertificates(ca, `in-cluster CA ${join(dir, "ca.crt")}`);
  let namespace = env.POD_NAMESPACE;
  if (!namespace) {
    namespace = (await readFile(join(dir, "namespace"), "utf8").catch(() => "")).trim() || "default";
  }
  const credentials = tokenFileCredentials(tokenPath, { refreshMs: options.tokenRefreshMs });
  await credentials.get();
  return {
    server: `https://${hostPart}:${port}`,
    tls: { ca },
    credentials,
    namespace,
    source: IN_CLUSTER_SOURCE,
  };
}
