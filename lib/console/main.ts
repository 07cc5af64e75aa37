/**
 * `dataflow-operator console`: connects like the operator (kubeconfig or in-cluster), watches
 * DataFlows with the toolkit's informers, and serves the console until SIGINT/SIGTERM.
 */
import process from "node:process";
import {
  ConfigError,
  defaultUserAgent,
  HttpTransport,
  IN_CLUSTER_SOURCE,
  KubeClient,
  loadConfig,
} from "../kube/mod.ts";
import { configureLogging, logger } from "../observe/mod.ts";
import { Informer, NamespacedInformers, useFullJit } from "../runtime/mod.ts";
import { LEASE_NAME } from "../dataflow/operator.ts";
import { UsageError } from "../dataflow/flags.ts";
import { DataFlowType } from "../dataflow/names.ts";
import type { DataFlow } from "../dataflow/schema.ts";
import { type CliIo, VERSION } from "../dataflow/cli.ts";
import { ConsoleApp, type DataFlowCache } from "./app.ts";
import { renderStatus } from "./detail-page.ts";
import { CONSOLE_USAGE, type ConsoleSettings, parseConsoleArgs } from "./flags.ts";
import { errorPage } from "./layout.ts";
import { listen, type Listening, send } from "./http.ts";
import { chooseWriteMode, whoAmI, type WriteIdentity } from "./identity.ts";
import { LiveHub } from "./live.ts";
import { OperatorStatus } from "./operator-status.ts";

/** Where the console writes and what it reads from the environment (the CLI's CliIo, narrowed). */
export interface ConsoleIo extends Pick<CliIo, "stdout" | "stderr" | "env" | "handleSignals"> {
  /** Called once the console listens (tests read its URL and stop it). */
  onStarted?: (console: RunningConsole) => void;
}

/** A running console. */
export interface RunningConsole {
  readonly url: string;
  readonly server: Listening;
  /** Stops serving and watching; `run` then resolves 0. */
  stop(): void;
}

/** A DataFlow cache over one informer per watched namespace (or one for all). */
function dataflowCache(client: KubeClient, namespaces: string[] | undefined) {
  const informers = new NamespacedInformers<DataFlow>(
    namespaces,
    (namespace) =>
      new Informer<DataFlow>(client, DataFlowType, {
        namespace,
        name: namespace ? `console-dataflows/${namespace}` : "console-dataflows",
      }),
  );
  const cache: DataFlowCache = {
    list: () => informers.list(),
    get: (key) => informers.get(key),
    synced: () => informers.informers.every((i) => i.hasSynced()),
    namespaces: () =>
      namespaces?.length
        ? [...namespaces]
        : [...new Set(informers.list().map((d) => d.metadata.namespace ?? ""))],
  };
  return { informers: informers.informers, cache };
}

/** Runs the console; resolves with the exit code (0 after a signal or stop, 2 for a bad command line). */
export async function consoleMain(argv: string[], io: ConsoleIo): Promise<number> {
  let settings: ConsoleSettings;
  try {
    settings = parseConsoleArgs(argv, io.env);
    configureLogging({
      category: "dataflow",
      level: io.env.LOG_LEVEL || "info",
      format: io.env.LOG_FORMAT || "json",
    });
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      await io.stderr(`error: ${err.message}; see console --help\n`);
      return 2;
    }
    throw err;
  }
  if (settings.help) {
    await io.stdout(CONSOLE_USAGE);
    return 0;
  }
  const log = logger("console", "main");
  let transport: HttpTransport | undefined;
  try {
    const config = {
      ...await loadConfig({ kubeconfig: settings.kubeconfig, context: settings.context, env: io.env }),
      // The API server's audit log and flow schemas tell the console from the operator.
      userAgent: defaultUserAgent(`dataflow-console/${VERSION}`),
    };
    const inCluster = config.source === IN_CLUSTER_SOURCE;
    const mode = chooseWriteMode(settings.enableWrites, settings.writeIdentity, inCluster);
    transport = new HttpTransport(config);
    const client = new KubeClient(transport, { namespace: config.namespace });
    let identity: WriteIdentity = { mode: "off" };
    if (mode === "kubeconfig") {
      const user = await whoAmI(client).catch(() => undefined);
      identity = { mode, client, user };
    } else if (mode === "token") identity = { mode, config };
    const leaseNamespace = settings.leaseNamespace || io.env.OPERATOR_NAMESPACE ||
      (inCluster ? config.namespace : "dataflow-system");

    const { informers, cache } = dataflowCache(client, settings.namespaces);
    const hub = new LiveHub(cache, renderStatus);
    for (const informer of informers) informer.on(hub.handlers());
    const operator = new OperatorStatus({
      client,
      leaseNamespace,
      leaseName: LEASE_NAME,
      metricsUrl: settings.operatorMetricsUrl,
    });
    const app = new ConsoleApp({ client, dataflows: cache, hub, operator, identity });
    const server = await listen(
      settings.listen,
      (req, res) => app.handle(req, res),
      (_req, res, err) =>
        send(res, 500, errorPage({ writes: "off" }, "Console error", (err as Error).message ?? String(err))),
    );
    const abort = new AbortController();
    for (const informer of informers) informer.start(abort.signal);

    let stopped!: () => void;
    const done = new Promise<void>((resolve) => stopped = resolve);
    const stop = () => stopped();
    const running: RunningConsole = { url: server.url, server, stop };
    if (io.handleSignals !== false) {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, stop); // a second signal changes nothing
    }
    // Serving pages is the console's hot path: the JIT's normal tiering from here on (lib/runtime/jit.ts).
    useFullJit();
    log.info("console serving {url}; connected to {server} ({source}); writes {writes}", {
      url: server.url,
      server: config.server,
      source: config.source,
      writes: mode === "off"
        ? "off (read-only)"
        : `as ${mode === "token" ? "each user's token" : "the kubeconfig user"}`,
      scope: settings.namespaces ? settings.namespaces.join(",") : "all namespaces",
      operatorMetrics: settings.operatorMetricsUrl ?? "none",
      lease: `${leaseNamespace}/${LEASE_NAME}`,
    });
    await io.stdout(
      `DataFlow console: ${server.url} (${
        mode === "off"
          ? "read-only"
          : `writes as ${
            mode === "token"
              ? "each signed-in user's token"
              : identity.mode === "kubeconfig" && identity.user
              ? identity.user
              : "the kubeconfig's user"
          }`
      }; Ctrl-C stops it)\n`,
    );
    io.onStarted?.(running);
    await done;
    log.info("console stopping");
    abort.abort();
    for (const informer of informers) informer.stop();
    await server.close();
    // The signal handlers stay until the process exits: a terminal's Ctrl-C reaches the whole
    // process group and a wrapper may forward another, which must not kill the console on its way out.
    log.info("console stopped");
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      await io.stderr(`error: ${err.message}\n`);
      return 2;
    }
    log.fatal("the console failed: {error}", { error: (err as Error).message });
    await io.stderr(`error: ${(err as Error).message}\n`);
    return 1;
  } finally {
    transport?.close();
  }
}
