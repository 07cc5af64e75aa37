/**
 * The operator's start-up check: before any informer starts, find out whether it can work at all,
 * and if not, say why and what fixes it in one line, instead of retrying a misconfiguration
 * forever. Judged in this order, each step assuming the ones before it passed (the requests of
 * steps 2 to 5 go out together once the server answered, over a few shared connections):
 *   1. the server is reachable (a refused port, DNS, TLS, plain HTTP named as such);
 *   2. the credentials are accepted (which source; rejected or expired);
 *   3. the DataFlow CRD is installed and serves v1;
 *   4. every permission the operator needs is granted (a SelfSubjectAccessReview for each verb,
 *      resource and namespace of deploy/rbac.yaml's rules);
 *   5. the Lease's namespace exists and a Lease may be created there (a dry run).
 * Transient answers (5xx, 429, a connection refused while the server restarts) are retried until
 * the deadline; a definite answer fails at once.
 */
import {
  ApiError,
  builtin,
  ConfigError,
  ConnectionError,
  errorFromResponse,
  isRetryable,
  type KubeClient,
  resourceType,
} from "../kube/mod.ts";
import { logger } from "../observe/mod.ts";
import { type PolicyRule, RBAC_RULES } from "./manifests.generated.ts";
import { API_VERSION } from "./names.ts";

const log = logger("operator", "startup-check");

/** A failed step: `message` says what is wrong and how to fix it; `exitCode` 1 (or 2 for configuration). */
export class StartupCheckError extends Error {
  constructor(readonly step: string, message: string, readonly exitCode = 1) {
    super(message);
    this.name = "StartupCheckError";
  }
}

/** What the operator is about to do, so the check knows what it needs. */
export interface StartupCheckOptions {
  client: KubeClient;
  /** The server URL and where the configuration came from, for the messages. */
  server: string;
  source: string;
  /** Watched namespaces (undefined: all). */
  namespaces?: string[];
  /** The Lease's namespace, or undefined without leader election. */
  leaseNamespace?: string;
  leaseName: string;
  /** The operator's own Deployment, watched by name. */
  operatorDeployment?: { name: string; namespace: string };
  /** The whole check's time budget (default 10 s). */
  timeoutMs?: number;
}

/** One permission: a verb on a resource (with subresource), in a namespace ("" = all), maybe by name. */
interface Permission {
  group: string;
  resource: string;
  subresource?: string;
  verb: string;
  namespace: string;
  name?: string;
}

/** A review object as the server returns it: what was asked, and its answer in `status`. */
interface Review<S> {
  apiVersion?: string;
  kind?: string;
  spec?: unknown;
  status?: S;
}

function expand(rules: PolicyRule[], namespace: string): Permission[] {
  const out: Permission[] = [];
  for (const r of rules) {
    for (const group of r.apiGroups) {
      for (const full of r.resources) {
        const [resource, subresource] = full.split("/");
        for (const verb of r.verbs) {
          for (const name of r.resourceNames ?? [undefined]) {
            out.push({ group, resource, subresource, verb, namespace, name });
          }
        }
      }
    }
  }
  return out;
}

function describe(p: Permission): string {
  const what = `${p.resource}${p.subresource ? `/${p.subresource}` : ""}${p.group ? `.${p.group}` : ""}`;
  return `${p.verb} ${what}${p.name ? ` ${p.name}` : ""} ${
    p.namespace ? `in ${p.namespace}` : "in all namespaces"
  }`;
}

/** The rules to add for the missing permissions, as RBAC YAML flow sequences, grouped per resource. */
function rulesToAdd(missing: Permission[]): string {
  const byResource = new Map<string, Permission[]>();
  for (const p of missing) {
    const key = `${p.namespace}|${p.group}|${p.resource}${p.subresource ? `/${p.subresource}` : ""}|${
      p.name ?? ""
    }`;
    byResource.set(key, [...byResource.get(key) ?? [], p]);
  }
  return [...byResource.entries()].map(([key, ps]) => {
    const [ns, group, resource, name] = key.split("|");
    const where = ns ? `a Role in ${ns}` : "its ClusterRole";
    const names = name ? `, resourceNames: ["${name}"]` : "";
    const verbs = [...new Set(ps.map((p) => `"${p.verb}"`))].join(", ");
    return `to ${where}: {apiGroups: ["${group}"], resources: ["${resource}"]${names}, verbs: [${verbs}]}`;
  }).join("; ");
}

/**
 * Connections the check's requests share: a few requests each instead of a TLS handshake per
 * request (23 SelfSubjectAccessReviews in cluster mode), and as many warm connections as the
 * operator then opens watches.
 */
const CONNECTIONS = 4;

/** Runs at most `n` of the calls given to the returned function at once, the others in turn. */
function semaphore(n: number): <T>(call: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (call) => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await call();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Runs the check; resolves when the operator can start, throws {@link StartupCheckError} otherwise. */
export async function startupCheck(options: StartupCheckOptions): Promise<void> {
  const judged = new AbortController();
  try {
    await check(options, judged.signal);
  } finally {
    judged.abort(); // the requests of later steps still out when an earlier step failed
  }
}

/** The check; `judged` aborts its requests still out once the outcome is known. */
async function check(options: StartupCheckOptions, judged: AbortSignal): Promise<void> {
  const budget = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + budget;
  const { client, server } = options;

  /** One request, retried while the answer is transient and time is left. */
  async function ask<T>(step: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      const signal = AbortSignal.any([AbortSignal.timeout(Math.max(1, deadline - Date.now())), judged]);
      try {
        return await call(signal);
      } catch (err) {
        if (err instanceof ConfigError) throw new StartupCheckError(step, err.message, 2);
        // A refused connection may be a server restarting, but most often it is a wrong address:
        // it gets half the budget.
        const left = deadline - Date.now() - (err instanceof ConnectionError ? budget / 2 : 0);
        if (signal.aborted || left <= 0 || !isRetryable(err)) throw err;
        log.debug("start-up check ({step}): {error}; retrying", { step, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, Math.min(left, 250 * 2 ** Math.min(attempt, 3))));
      }
    }
  }

  // 1. Reachable: any HTTP answer will do (an unauthenticated /version is allowed everywhere).
  let version: Response;
  try {
    // Any HTTP answer proves the server reachable, a 429 or a 5xx too (later steps retry those).
    version = await ask(
      "reachable",
      (signal) => client.transport.request({ method: "GET", path: "/version", signal }),
    );
  } catch (err) {
    if (err instanceof StartupCheckError) throw err;
    const why = err instanceof ConnectionError
      ? err.message.replace(/^GET \/version: /, "")
      : (err as Error).name === "TimeoutError" || (err as Error).name === "AbortError"
      ? `no answer within ${options.timeoutMs ?? 10_000} ms`
      : (err as Error).message;
    throw new StartupCheckError(
      "reachable",
      `cannot reach the API server ${server} (${options.source}): ${why}; check the server URL and that the ` +
        "cluster is running",
    );
  }
  const body = await version.text().catch(() => "");
  if (version.status === 400 && /HTTP request to an HTTPS server/i.test(body)) {
    throw new StartupCheckError(
      "reachable",
      `the API server ${server} speaks HTTPS, but the configured URL is plain http://; use https:// in the ` +
        `server URL (${options.source})`,
      2,
    );
  }

  // Steps 2 to 5 need only a reachable server, not each other's outcome: their requests go out
  // together, over at most CONNECTIONS connections (each new one is a TLS handshake; they stay
  // open for the informers' watches), and their answers are judged in the order above, so the
  // failure reported is the first step's, as if they had run one after another.
  const limit = semaphore(CONNECTIONS);
  const started = <T>(call: () => Promise<T>): Promise<T> => {
    const p = limit(call);
    p.catch(() => {}); // judged below, in order; a step that fails first leaves the rest unread
    return p;
  };

  // 2. Credentials: who are we? 401 means rejected or expired.
  const selfReview = started(() =>
    ask(
      "credentials",
      (signal) =>
        client.create<Review<{ userInfo?: { username?: string } }>>(
          resourceType("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", false),
          { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
          { signal },
        ),
    )
  );
  // 3. The CRD serves dataflow.dataflow.io/v1.
  const crd = started(() =>
    ask("crd", async (signal) => {
      const res = await client.transport.request({ method: "GET", path: `/apis/${API_VERSION}`, signal });
      if (!res.ok) {
        throw errorFromResponse(
          res.status,
          await res.text().catch(() => ""),
          `GET /apis/${API_VERSION}`,
        );
      }
      await res.body?.cancel();
    })
  );
  // 4. Every permission of deploy/rbac.yaml where the operator will use it.
  const rules = RBAC_RULES;
  const wanted = (options.namespaces?.length ? options.namespaces : [""]).flatMap((ns) =>
    expand(rules.workload, ns)
  );
  if (options.leaseNamespace) wanted.push(...expand(rules.lease, options.leaseNamespace));
  const self = options.operatorDeployment;
  if (self && options.namespaces?.length && !options.namespaces.includes(self.namespace)) {
    for (const verb of ["list", "watch"]) {
      wanted.push({
        group: "apps",
        resource: "deployments",
        verb,
        namespace: self.namespace,
        name: self.name,
      });
    }
  }
  const reviews = wanted.map((p) =>
    started(() =>
      ask(
        "permissions",
        (signal) =>
          client.create<Review<{ allowed?: boolean }>>(builtin.SelfSubjectAccessReview, {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SelfSubjectAccessReview",
            spec: {
              resourceAttributes: {
                group: p.group,
                resource: p.resource,
                subresource: p.subresource,
                verb: p.verb,
                namespace: p.namespace || undefined,
                name: p.name,
              },
            },
          }, { signal }),
      )
    )
  );
  // 5. The Lease's namespace exists (a dry-run create: nothing is written).
  const leaseNamespace = options.leaseNamespace;
  const lease = leaseNamespace
    ? started(() =>
      ask("lease", (signal) =>
        client.create(builtin.Lease, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: options.leaseName, namespace: leaseNamespace },
          spec: {},
        }, { namespace: leaseNamespace, dryRun: true, signal }))
    )
    : undefined;

  let user = "";
  try {
    const review = await selfReview;
    user = review.status?.userInfo?.username ?? "";
  } catch (err) {
    if (err instanceof StartupCheckError) throw err;
    if (err instanceof ApiError && err.code === 401) {
      throw new StartupCheckError(
        "credentials",
        `the API server ${server} rejected the credentials of ${options.source} (401 Unauthorized): the token or ` +
          "client certificate is invalid or expired; renew it (kubectl config view --minify shows which)",
      );
    }
    throw new StartupCheckError("credentials", `checking the credentials failed: ${(err as Error).message}`);
  }
  const who = user || "the configured user";

  try {
    await crd;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) {
      throw new StartupCheckError(
        "crd",
        `the DataFlow CRD is not installed: ${server} serves no ${API_VERSION} API; install it with ` +
          "`dataflow-operator crd | kubectl apply -f -`",
      );
    }
    throw new StartupCheckError("crd", `checking for the DataFlow CRD failed: ${(err as Error).message}`);
  }

  const allowed: boolean[] = [];
  for (const review of reviews) {
    try {
      allowed.push((await review).status?.allowed === true);
    } catch (err) {
      throw new StartupCheckError(
        "permissions",
        `checking the permissions failed: ${(err as Error).message}`,
      );
    }
  }
  const missing = wanted.filter((_, i) => !allowed[i]);
  if (missing.length) {
    throw new StartupCheckError(
      "permissions",
      `${who} lacks ${missing.length} permission(s) the operator needs: ${
        missing.map(describe).join(", ")
      }; ` +
        `install deploy/rbac.yaml (or \`dataflow-operator manifests\`) and run as its ServiceAccount, or add ` +
        rulesToAdd(missing),
    );
  }

  if (lease) {
    try {
      await lease;
    } catch (err) {
      if (err instanceof ApiError && err.reason === "AlreadyExists") return;
      if (err instanceof ApiError && err.code === 404) {
        throw new StartupCheckError(
          "lease",
          `the Lease namespace ${options.leaseNamespace} does not exist: create it (kubectl create namespace ` +
            `${options.leaseNamespace}) or choose another with --leader-election-namespace`,
        );
      }
      throw new StartupCheckError("lease", `checking the Lease namespace failed: ${(err as Error).message}`);
    }
  }
}
