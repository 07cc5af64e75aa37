/**
 * The operator's command line (`mod.ts` calls {@link main} when run as the main module):
 * `run` (default), `crd`, `manifests`, `version`, `--help`. Flags and environment follow the Go
 * operator (`--metrics-bind-address`, `--health-probe-bind-address`, LOG_LEVEL, PROCESSOR_IMAGE,
 * PROCESSOR_LOG_LEVEL, OPERATOR_DEPLOYMENT_NAME, OPERATOR_NAMESPACE, the zap flags: see
 * flags.ts) plus `--kubeconfig`, `--context`, `--namespace` and `--leader-elect` (on by default),
 * and PROCESSOR_POLICY (what tenants may ask for: policy.ts).
 */
import process from "node:process";
import { ConfigError, connect, defaultUserAgent, IN_CLUSTER_SOURCE } from "../kube/mod.ts";
import { configureLogging, logger } from "../observe/mod.ts";
import { DEFAULT_OPERATOR_IMAGE, DEFAULT_PROCESSOR_IMAGE_REPO, type ProcessorSettings } from "./builders.ts";
import { createOperator, LEASE_NAME, type Operator } from "./operator.ts";
import {
  checkBindHosts,
  type CommandLine,
  DEFAULT_CONCURRENCY,
  parseCommandLine,
  parseNamespaceList,
  resolveRunSettings,
  type RunSettings,
} from "./flags.ts";
import { guardStdio, logSink, writeFlushed } from "./stdio.ts";
import { startupCheck, StartupCheckError } from "./startup-check.ts";
import pkg from "../../package.json" with { type: "json" };

/** The operator's version (package.json). */
export const VERSION: string = pkg.version;

/** The Lease's namespace outside a cluster: the shipped install's, where its RBAC grants the Lease. */
export const DEFAULT_LEASE_NAMESPACE = "dataflow-system";

export { DEFAULT_CONCURRENCY };

/** The help text. */
export const USAGE = `dataflow-operator ${VERSION}: the DataFlow operator (dataflow.dataflow.io/v1)

Usage: dataflow-operator [command] [flags]

Commands:
  run         run the operator (default)
  crd         print the CustomResourceDefinition (deploy/crd.yaml)
  manifests   print the CRD, RBAC and operator manifests (cluster mode); with
              --namespaces a,b: Roles only in those namespaces, the operator watching only them
  version     print the version
  render-spec the processor pod's init container: resolve the SecretRefs of the ConfigMap's
              spec.json from mounted Secret files into an in-memory spec.json and TLS files
              (render-spec --help)
  console     the web console: DataFlows (live), their Events, pods and logs, the operator's
              leader and counters; read-only unless --enable-writes (console --help)

Flags of run:
  --kubeconfig <path>                  kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)
  --context <name>                     kubeconfig context (default: the current one)
  --namespace <a,b,...>                watch only these namespaces (default: all namespaces)
  --metrics-bind-address <addr>        metrics endpoint, [host]:port or "0" to disable (default: in a
                                       pod :9090, all interfaces; outside a cluster 127.0.0.1:9090)
  --health-probe-bind-address <addr>   /healthz and /readyz, [host]:port or "0" (default: in a pod
                                       :9091; outside a cluster 127.0.0.1:9091)
  --leader-elect[=true|false]          Lease leader election (default true); also --no-leader-elect
  --leader-election-namespace <ns>     namespace of the Lease ${LEASE_NAME} (default: OPERATOR_NAMESPACE;
                                       else in a pod its namespace, outside a cluster ${DEFAULT_LEASE_NAMESPACE})
  --max-concurrent-reconciles <n>      DataFlows reconciled in parallel (default ${DEFAULT_CONCURRENCY});
                                       one DataFlow never runs twice at once
  --cache-sync-timeout <duration>      how long the leader waits for its caches to fill before it exits
                                       with the reason (default 2m; /readyz?verbose names what is missing)
  --log-file <path>                    append the log to this file instead of standard error
  -h, --help                           this help

  "In a pod" means KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set. Flags take one or
  two dashes, --flag=value or --flag value; an unknown flag or a bad value exits 2 before anything
  connects or listens.

Flags of the Go operator (its Deployments start unchanged):
  --zap-log-level <level>              debug, info, warn, error, panic, or n > 0 (1 debug, 2+ trace)
  --zap-devel[=true|false]             development logging: level debug and format text
  --zap-encoder <json|console>         log format json or text
  --zap-stacktrace-level, --zap-time-encoding
                                       accepted and ignored (one warning names them)
  LOG_LEVEL and LOG_FORMAT, when set, take precedence over these flags (as LOG_LEVEL does in the
  Go operator); an explicit --zap-log-level or --zap-encoder takes precedence over --zap-devel.

Environment:
  LOG_LEVEL                 trace, debug, info (default), warning, error; debug logs every API write and event
  LOG_FORMAT                json (default) or text; anything else exits 2
  PROCESSOR_IMAGE           processor image (default ${DEFAULT_PROCESSOR_IMAGE_REPO}:${VERSION})
  OPERATOR_IMAGE            the operator's own image, run as each processor pod's init container
                            render-spec (default ${DEFAULT_OPERATOR_IMAGE}; a warning when unset)
  PROCESSOR_LOG_LEVEL       LOG_LEVEL of the processor pods (default info)
  PROCESSOR_POD_SECURITY_CONTEXT, PROCESSOR_SECURITY_CONTEXT
                            JSON pod / container securityContext replacing the hardened defaults
  PROCESSOR_POLICY          JSON: what DataFlows may ask for (node-selector keys, tolerations, CPU
                            and memory maxima, extended resources); unset: the defaults in README.md
                            "Multi-tenancy"; a bad policy exits 2 naming the field
  OPERATOR_DEPLOYMENT_NAME, OPERATOR_NAMESPACE
                            the operator's own Deployment: a change of it re-reconciles every DataFlow
`;

/** Where the CLI writes (tests capture it). */
export interface CliIo {
  /** Awaited: the caller may exit the process right after main() resolves (long output must be flushed). */
  stdout: (text: string) => void | Promise<void>;
  stderr: (text: string) => void | Promise<void>;
  env: Record<string, string | undefined>;
  /** Install SIGTERM/SIGINT handlers (default true); tests stop the operator through {@link CliIo.onStarted}. */
  handleSignals?: boolean;
  /** Called with the built operator just before it runs (tests use it to stop it or read its ports). */
  onStarted?: (operator: Operator) => void;
}

/** The process's own stdout, stderr, environment and signals. */
export const defaultIo: CliIo = {
  stdout: (t) => writeFlushed(process.stdout, t),
  stderr: (t) => writeFlushed(process.stderr, t),
  env: process.env,
};

function parseJsonEnv<T>(env: CliIo["env"], name: string): T | undefined {
  const v = env[name];
  if (!v) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch (err) {
    throw new ConfigError(`${name} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The processor settings from the environment. */
export function processorSettingsFromEnv(env: CliIo["env"]): ProcessorSettings {
  return {
    image: env.PROCESSOR_IMAGE || `${DEFAULT_PROCESSOR_IMAGE_REPO}:${VERSION}`,
    operatorImage: env.OPERATOR_IMAGE || DEFAULT_OPERATOR_IMAGE,
    logLevel: env.PROCESSOR_LOG_LEVEL || "info",
    podSecurityContext: parseJsonEnv(env, "PROCESSOR_POD_SECURITY_CONTEXT"),
    containerSecurityContext: parseJsonEnv(env, "PROCESSOR_SECURITY_CONTEXT"),
  };
}

/**
 * Runs the CLI; resolves with the process exit code (0 ok, 1 operator failure, 2 usage or
 * configuration error).
 */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  if (io === defaultIo) guardStdio();
  // The init container's command: its own flags, no connection, no logging set-up. It and the
  // printing commands are loaded only when asked for: `run` never needs them. (`console` is
  // dispatched before this, by lib/cli/main.ts.)
  if (argv[0] === "render-spec") {
    return await (await import("./render-spec.ts")).renderSpecMain(argv.slice(1), io);
  }
  let parsed: CommandLine;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    await io.stderr(`error: ${(err as Error).message}; see --help\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? "run";
  if ((values.help !== undefined && !/^(false|f|0|no)$/i.test(values.help)) || command === "help") {
    await io.stdout(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    await io.stderr(`error: unexpected arguments: ${positionals.slice(1).join(" ")}; see --help\n`);
    return 2;
  }
  switch (command) {
    case "version":
      await io.stdout(`dataflow-operator ${VERSION}\n`);
      return 0;
    case "crd":
      await io.stdout((await import("./crd.ts")).crdYaml());
      return 0;
    case "manifests": {
      let namespaces: string[] | undefined;
      try {
        namespaces = values.namespaces === undefined
          ? undefined
          : parseNamespaceList(values.namespaces, "--namespaces");
      } catch (err) {
        await io.stderr(`error: ${(err as Error).message}\n`);
        return 2;
      }
      await io.stdout((await import("./install-manifests.ts")).installManifests({ namespaces }));
      return 0;
    }
    case "run":
      break;
    default:
      await io.stderr(`error: unknown command "${command}"; see --help\n`);
      return 2;
  }

  // Every flag and variable is checked here, before anything connects or listens (exit code 2).
  let settings: RunSettings;
  let sink: ReturnType<typeof logSink> | undefined;
  try {
    settings = resolveRunSettings(parsed, io.env);
    await checkBindHosts(settings);
    sink = logSink(settings.logFile);
    configureLogging({
      category: "dataflow",
      level: settings.logLevel,
      format: settings.logFormat,
      write: sink.write,
    });
  } catch (err) {
    sink?.close();
    await io.stderr(`error: ${(err as Error).message}\n`);
    return 2;
  }
  const log = logger("operator", "cli");
  if (settings.ignoredFlags.length) {
    log.warning("ignoring flags of the Go operator that have no effect here: {flags}", {
      flags: settings.ignoredFlags.join(" "),
    });
  }
  try {
    const { leaderElect, namespaces, concurrency, cacheSyncTimeoutMs } = settings;
    const processor = processorSettingsFromEnv(io.env);
    if (!io.env.OPERATOR_IMAGE) {
      log.warning(
        "OPERATOR_IMAGE is not set: processor pods run their init container render-spec from {image}; " +
          "set OPERATOR_IMAGE to the image this operator runs as",
        { image: processor.operatorImage },
      );
    }
    const conn = await connect({
      kubeconfig: values.kubeconfig,
      context: values.context,
      env: io.env,
      userAgent: defaultUserAgent(`dataflow-operator/${VERSION}`),
    });
    // In a pod: the pod's namespace. Outside a cluster, not the kubeconfig's namespace (often
    // `default`, where the shipped RBAC grants no Lease) but the shipped install's namespace.
    const inCluster = conn.source === IN_CLUSTER_SOURCE;
    const leaseNamespace = values["leader-election-namespace"] || io.env.OPERATOR_NAMESPACE ||
      (inCluster ? conn.namespace : DEFAULT_LEASE_NAMESPACE);
    const opName = io.env.OPERATOR_DEPLOYMENT_NAME, opNs = io.env.OPERATOR_NAMESPACE;
    await startupCheck({
      client: conn.client,
      server: conn.server,
      source: conn.source,
      namespaces,
      leaseNamespace: leaderElect ? leaseNamespace : undefined,
      leaseName: LEASE_NAME,
      operatorDeployment: opName && opNs ? { name: opName, namespace: opNs } : undefined,
    });
    log.info("dataflow-operator {version} connecting to {server} ({source}); watching {scope}", {
      version: VERSION,
      server: conn.server,
      source: conn.source,
      scope: namespaces ? `namespaces ${namespaces.join(", ")}` : "all namespaces",
      processorImage: processor.image,
      processorPolicy: JSON.stringify(settings.processorPolicy),
      leaderElection: leaderElect ? `${leaseNamespace}/${LEASE_NAME}` : "off",
    });
    const operator = createOperator({
      client: conn.client,
      namespaces,
      processor,
      processorPolicy: settings.processorPolicy,
      concurrency,
      operatorDeployment: opName && opNs ? { name: opName, namespace: opNs } : undefined,
      leaderElection: leaderElect
        ? { namespace: leaseNamespace, leaseName: LEASE_NAME, identity: io.env.POD_NAME || undefined }
        : false,
      cacheSyncTimeoutMs,
      metricsBindAddress: settings.metricsBindAddress,
      healthBindAddress: settings.healthBindAddress,
      handleSignals: io.handleSignals,
    });
    io.onStarted?.(operator);
    try {
      return await operator.manager.run();
    } finally {
      // The manager has let go of the signals; one arriving from here to the exit (the second
      // Ctrl-C of a terminal) must not turn the exit code it returned into 130.
      if (io.handleSignals !== false) {
        for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
      }
      conn.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      await io.stderr(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof StartupCheckError) {
      // One ERROR line naming the cause and the fix (the log line), then the exit.
      log.error("start-up check failed ({step}): {error}", { step: err.step, error: err.message });
      return err.exitCode;
    }
    log.fatal("the operator failed: {error}", { error: (err as Error).message });
    await io.stderr(`error: ${(err as Error).message}\n`);
    return 1;
  } finally {
    sink.close(); // --log-file's descriptor (a no-op for standard error)
  }
}
