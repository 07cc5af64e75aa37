/**
 * Who the console's writes are sent as. Reads always use the console's own identity (in a
 * cluster: its read-only ServiceAccount). Writes are off unless enabled, and then never go around
 * RBAC:
 *
 * - `token`: each write carries the bearer token the signed-in user gave (`kubectl create token`,
 *   an OIDC ID token, ...); the API server authenticates that user and applies that user's RBAC.
 *   The default in a pod, and the only mode allowed there with the in-cluster ServiceAccount.
 * - `kubeconfig`: writes use the kubeconfig's own identity, which outside a cluster is the person
 *   running the console (their RBAC applies); the default outside a cluster.
 */
import {
  ConfigError,
  HttpTransport,
  KubeClient,
  type ResolvedConfig,
  staticCredentials,
  UnauthorizedError,
} from "../kube/mod.ts";
import type { WriteModeName } from "./layout.ts";

/** How the console writes. */
export type WriteIdentity =
  | { mode: "off" }
  | { mode: "kubeconfig"; client: KubeClient; user?: string }
  | { mode: "token"; config: ResolvedConfig };

/** The write mode's name (for pages). */
export function modeName(identity: WriteIdentity): WriteModeName {
  return identity.mode;
}

/**
 * Picks the write identity from the flags: off without `--enable-writes`; else `--write-identity`,
 * defaulting to `token` in a pod and `kubeconfig` elsewhere. `kubeconfig` on the in-cluster
 * ServiceAccount is refused: every write would be the console's, not the user's.
 * @throws ConfigError for that refusal or an unknown mode
 */
export function chooseWriteMode(
  enableWrites: boolean,
  requested: string | undefined,
  inCluster: boolean,
): "off" | "kubeconfig" | "token" {
  if (!enableWrites) {
    if (requested !== undefined) throw new ConfigError("--write-identity needs --enable-writes");
    return "off";
  }
  const mode = requested ?? (inCluster ? "token" : "kubeconfig");
  if (mode !== "token" && mode !== "kubeconfig") {
    throw new ConfigError(`--write-identity=${mode}: expected token or kubeconfig`);
  }
  if (mode === "kubeconfig" && inCluster) {
    throw new ConfigError(
      "--write-identity=kubeconfig with the in-cluster ServiceAccount would send every user's writes as the " +
        "console's ServiceAccount, around their RBAC; use --write-identity=token (users give their own token)",
    );
  }
  return mode;
}

/** A client that authenticates with one user's bearer token (and nothing of the console's own). */
export function clientForToken(
  config: ResolvedConfig,
  token: string,
): { client: KubeClient; close: () => void } {
  const transport = new HttpTransport({
    server: config.server,
    tls: config.tls,
    credentials: staticCredentials({ token }),
    userAgent: config.userAgent,
  });
  // No retries of a refused token, and writes are never resent anyway.
  return { client: new KubeClient(transport, { retry: { maxRetries: 2 } }), close: () => transport.close() };
}

interface SelfSubjectReview {
  status?: { userInfo?: { username?: string; groups?: string[] } };
}

/**
 * Who the API server says a client is (a SelfSubjectReview, which every authenticated user may
 * create). Throws UnauthorizedError for a refused token.
 */
export async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.postRaw<SelfSubjectReview>(
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  );
  const name = review?.status?.userInfo?.username;
  if (!name) throw new UnauthorizedError("the API server did not say who this is", { code: 401 });
  return name;
}
