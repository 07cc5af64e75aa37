/**
 * The operator's command line (`mod.ts` calls {@link main} when run as the main module):
 * `run` (default), `crd`, `manifests`, `version`, `--help`. Flags and environment follow the Go
 * operator (`--metrics-bind-address`, `--health-probe-bind-address`, LOG_LEVEL, PROCESSOR_IMAGE,
 * PROCESSOR_LOG_LEVEL, OPERATOR_DEPLOYMENT_NAME, OPERATOR_NAMESPACE) plus `--kubeconfig`,
 * `--context`, `--namespace` and `--leader-elect` (on by default).
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { connect } from "../kube/config.ts";
import { ConfigError } from "../kube/errors.ts";
import { configureLogging, logger } from "../observe/log.ts";
import { DEFAULT_PROCESSOR_IMAGE_REPO, type ProcessorSettings } from "./builders.ts";
import { createOperator, LEASE_NAME, type Operator } from "./controller.ts";
import { crdYaml } from "./crd.ts";
import { installManifests, parseNamespaceList } from "./install-manifests.ts";
import pkg from "../../package.json" with { type: "json" };

/** The operator's version (package.json). */
export const VERSION: string = pkg.version;

/** Reconcile workers by default: parallel DataFlows (one key never runs twice at once). */
export const DEFAULT_CONCURRENCY = 4;

/** The help text. */
export const USAGE = `dataflow-operator ${VERSION}: the DataFlow operator (dataflow.dataflow.io/v1)

Usage: dataflow-operator [command] [flags]

Commands:
  run         run the operator (default)
  crd         print the CustomResourceDefinition (deploy/crd.yaml)
  manifests   print the CRD, RBAC and operator manifests (cluster mode); with
              --namespaces a,b: Roles only in those namespaces, the operator watching only them
  version     print the version

Flags of run:
  --kubeconfig <path>                  kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)
  --context <name>                     kubeconfig context (default: the current one)
  --namespace <a,b,...>                watch only these namespaces (default: all namespaces)
  --metrics-bind-address <addr>        metrics endpoint (default :9090; "0" disables)
  --health-probe-bind-address <addr>   /healthz and /readyz (default :9091; "0" disables)
  --leader-elect[=true|false]          Lease leader election (default true); also --no-leader-elect
  --leader-election-namespace <ns>     namespace of the Lease ${LEASE_NAME}
                                       (default: OPERATOR_NAMESPACE, else the connection's namespace)
  --max-concurrent-reconciles <n>      DataFlows reconciled in parallel (default ${DEFAULT_CONCURRENCY});
                                       one DataFlow never runs twice at once
  -h, --help                           this help

Environment:
  LOG_LEVEL                 trace, debug, info (default), warning, error; debug logs every API write and event
  LOG_FORMAT                json (default) or text
  PROCESSOR_IMAGE           processor image (default ${DEFAULT_PROCESSOR_IMAGE_REPO}:${VERSION})
  PROCESSOR_LOG_LEVEL       LOG_LEVEL of the processor pods (default info)
  PROCESSOR_POD_SECURITY_CONTEXT, PROCESSOR_SECURITY_CONTEXT
                            JSON pod / container securityContext replacing the hardened defaults
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

/** Resolves once the stream has handed the text to the OS, so a process.exit() after it loses nothing. */
function writeFlushed(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

const defaultIo: CliIo = {
  stdout: (t) => writeFlushed(process.stdout, t),
  stderr: (t) => writeFlushed(process.stderr, t),
  env: process.env,
};

/** `--leader-elect` alone means true, `--no-leader-elect` false (parseArgs has no optional values). */
function normaliseArgs(argv: string[]): string[] {
  return argv.map((a) =>
    a === "--leader-elect" ? "--leader-elect=true" : a === "--no-leader-elect" ? "--leader-elect=false" : a
  );
}

function parsePositiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new ConfigError(`--${flag}=${v}: expected a whole number from 1 to 256`);
  }
  return n;
}

function parseBool(flag: string, v: string): boolean {
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new ConfigError(`--${flag}=${v}: expected true or false`);
}

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
  let parsed;
  try {
    parsed = parseArgs({
      args: normaliseArgs(argv),
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        kubeconfig: { type: "string" },
        context: { type: "string" },
        namespace: { type: "string" },
        namespaces: { type: "string" },
        "metrics-bind-address": { type: "string", default: ":9090" },
        "health-probe-bind-address": { type: "string", default: ":9091" },
        "leader-elect": { type: "string", default: "true" },
        "leader-election-namespace": { type: "string" },
        "max-concurrent-reconciles": { type: "string", default: String(DEFAULT_CONCURRENCY) },
      },
    });
  } catch (err) {
    await io.stderr(`error: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? "run";
  if (values.help || command === "help") {
    await io.stdout(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    await io.stderr(`error: unexpected arguments: ${positionals.slice(1).join(" ")}\n`);
    return 2;
  }
  switch (command) {
    case "version":
      await io.stdout(`dataflow-operator ${VERSION}\n`);
      return 0;
    case "crd":
      await io.stdout(crdYaml());
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
      await io.stdout(installManifests({ namespaces }));
      return 0;
    }
    case "run":
      break;
    default:
      await io.stderr(`error: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }

  try {
    configureLogging({ level: io.env.LOG_LEVEL });
  } catch (err) {
    await io.stderr(`error: ${(err as Error).message}\n`);
    return 2;
  }
  const log = logger("operator", "cli");
  try {
    const leaderElect = parseBool("leader-elect", values["leader-elect"]!);
    let namespaces: string[] | undefined;
    try {
      namespaces = values.namespace ? parseNamespaceList(values.namespace, "--namespace") : undefined;
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    const concurrency = parsePositiveInt("max-concurrent-reconciles", values["max-concurrent-reconciles"]!);
    const processor = processorSettingsFromEnv(io.env);
    const conn = await connect({ kubeconfig: values.kubeconfig, context: values.context, env: io.env });
    const leaseNamespace = values["leader-election-namespace"] || io.env.OPERATOR_NAMESPACE || conn.namespace;
    const opName = io.env.OPERATOR_DEPLOYMENT_NAME, opNs = io.env.OPERATOR_NAMESPACE;
    log.info("dataflow-operator {version} connecting to {server} ({source}); watching {scope}", {
      version: VERSION,
      server: conn.server,
      source: conn.source,
      scope: namespaces ? `namespaces ${namespaces.join(", ")}` : "all namespaces",
      processorImage: processor.image,
      leaderElection: leaderElect ? `${leaseNamespace}/${LEASE_NAME}` : "off",
    });
    const operator = createOperator({
      client: conn.client,
      namespaces,
      processor,
      concurrency,
      operatorDeployment: opName && opNs ? { name: opName, namespace: opNs } : undefined,
      leaderElection: leaderElect
        ? { namespace: leaseNamespace, leaseName: LEASE_NAME, identity: io.env.POD_NAME || undefined }
        : false,
      metricsBindAddress: values["metrics-bind-address"],
      healthBindAddress: values["health-probe-bind-address"],
      handleSignals: io.handleSignals,
    });
    io.onStarted?.(operator);
    try {
      return await operator.manager.run();
    } finally {
      conn.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      await io.stderr(`error: ${err.message}\n`);
      return 2;
    }
    log.fatal("the operator failed: {error}", { error: (err as Error).message });
    await io.stderr(`error: ${(err as Error).message}\n`);
    return 1;
  }
}
