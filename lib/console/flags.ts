/**
 * The command line of `dataflow-operator console`, spelled like the operator's (one or two dashes,
 * `--flag=value` or `--flag value`, booleans bare or `=true|false`) and checked before anything
 * connects or listens: a bad one exits 2 with one line.
 */
import { ConfigError, isInCluster } from "../kube/mod.ts";
import {
  checkBindAddress,
  parseBool,
  parseFlags,
  parseNamespaceList,
  UsageError,
} from "../dataflow/flags.ts";

/** The console's flags and whether each takes a value. */
export const CONSOLE_FLAGS = {
  help: "boolean",
  listen: "string",
  kubeconfig: "string",
  context: "string",
  namespace: "string",
  "operator-metrics-url": "string",
  "leader-election-namespace": "string",
  "enable-writes": "boolean",
  "write-identity": "string",
} as const;

type Flag = keyof typeof CONSOLE_FLAGS;

/** The console's settings, validated. */
export interface ConsoleSettings {
  help: boolean;
  listen: string;
  kubeconfig?: string;
  context?: string;
  /** Watched namespaces; undefined: all. */
  namespaces?: string[];
  /** The operator's /metrics; undefined: none. */
  operatorMetricsUrl?: string;
  /** Explicit `--leader-election-namespace` (the default depends on where the console connects). */
  leaseNamespace?: string;
  enableWrites: boolean;
  writeIdentity?: string;
}

/** Where the console listens by default: every interface in a pod, else loopback only. */
export function defaultListen(env: Record<string, string | undefined>): string {
  return isInCluster(env) ? ":8080" : "127.0.0.1:8080";
}

/** The default operator metrics URL (a local `dataflow-operator run`'s). */
export const DEFAULT_OPERATOR_METRICS_URL = "http://127.0.0.1:9090/metrics";

/**
 * Parses and checks the console's arguments (after the word `console`).
 * @throws UsageError (unknown flag, missing value) or ConfigError (bad value): both exit 2
 */
export function parseConsoleArgs(argv: string[], env: Record<string, string | undefined>): ConsoleSettings {
  const { values: v, positionals } = parseFlags(argv, CONSOLE_FLAGS);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const help = v.help !== undefined && parseBool("help", v.help);
  const listen = checkBindAddress("listen", v.listen ?? defaultListen(env));
  if (listen === "0" || listen === "") throw new ConfigError(`--listen=${listen}: expected [host]:port`);
  let namespaces: string[] | undefined;
  try {
    namespaces = v.namespace ? parseNamespaceList(v.namespace, "--namespace") : undefined;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  let operatorMetricsUrl: string | undefined = v["operator-metrics-url"] ?? DEFAULT_OPERATOR_METRICS_URL;
  if (operatorMetricsUrl === "" || operatorMetricsUrl === "0") operatorMetricsUrl = undefined;
  else if (!/^https?:\/\/[^\s/]+/.test(operatorMetricsUrl)) {
    throw new ConfigError(
      `--operator-metrics-url=${operatorMetricsUrl}: expected an http:// or https:// URL, or 0`,
    );
  }
  return {
    help,
    listen,
    kubeconfig: v.kubeconfig || undefined,
    context: v.context || undefined,
    namespaces,
    operatorMetricsUrl,
    leaseNamespace: v["leader-election-namespace"] || undefined,
    enableWrites: v["enable-writes"] !== undefined && parseBool("enable-writes", v["enable-writes"]),
    writeIdentity: v["write-identity"],
  };
}

/** The help text of `dataflow-operator console`. */
export const CONSOLE_USAGE = `Usage: dataflow-operator console [flags]

A web console for DataFlows: the list across namespaces (live), each DataFlow with its status,
Events, ConfigMap, Deployment, processor pods and logs, and the operator's leader, queue and
reconcile counters. Read-only unless --enable-writes.

Flags:
  --listen <[host]:port>              where to serve (default: in a pod :8080, else 127.0.0.1:8080)
  --kubeconfig <path>                 kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)
  --context <name>                    kubeconfig context (default: the current one)
  --namespace <a,b,...>               show only these namespaces (default: all)
  --operator-metrics-url <url|0>      the operator's /metrics, for the operator page
                                      (default ${DEFAULT_OPERATOR_METRICS_URL}; 0: none)
  --leader-election-namespace <ns>    namespace of the operator's Lease (default: OPERATOR_NAMESPACE;
                                      else in a pod its namespace, outside a cluster dataflow-system)
  --enable-writes[=true|false]        allow create, edit and delete (default false)
  --write-identity <token|kubeconfig> who writes are sent as: "token", the bearer token each user
                                      signs in with (default in a pod; the API server applies that
                                      user's RBAC), or "kubeconfig", the kubeconfig's own identity
                                      (default outside a cluster; refused with the in-cluster account)
  -h, --help                          this help

Environment: LOG_LEVEL (default info), LOG_FORMAT (json default, or text).
`;
