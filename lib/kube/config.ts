/**
 * Finding the cluster to talk to, in controller-runtime's order: `--kubeconfig` >
 * KUBECONFIG > in-cluster > ~/.kube/config.
 */
import { existsSync } from "node:fs";
import process from "node:process";
import { KubeClient, type KubeClientOptions } from "./client.ts";
import { ConfigError } from "./errors.ts";
import { inClusterConfig, isInCluster } from "./incluster.ts";
import { kubeconfigPaths, loadKubeconfig, resolveContext, type ResolvedConfig } from "./kubeconfig.ts";
import { HttpTransport } from "./transport.ts";

/** Options of {@link loadConfig} and {@link connect}. */
export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  env?: Record<string, string | undefined>;
  client?: KubeClientOptions;
}

/** Resolves where to connect, with a clear error when nothing is configured. */
export async function loadConfig(options: ConnectOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  if (options.kubeconfig) {
    return resolveContext(
      await loadKubeconfig(kubeconfigPaths(options.kubeconfig, env), true),
      options.context,
    );
  }
  if (env.KUBECONFIG) {
    return resolveContext(await loadKubeconfig(kubeconfigPaths(undefined, env)), options.context);
  }
  if (isInCluster(env) && !options.context) return inClusterConfig({ env });
  const home = kubeconfigPaths(undefined, { ...env, KUBECONFIG: undefined });
  if (!existsSync(home[0])) {
    throw new ConfigError(
      `no cluster configured: pass --kubeconfig, set KUBECONFIG, create ${home[0]}, or run inside a pod`,
    );
  }
  return resolveContext(await loadKubeconfig(home), options.context);
}

/** A connected client and what it connected to. */
export interface Connection {
  client: KubeClient;
  namespace: string;
  source: string;
  server: string;
  close(): void;
}

/** Loads the configuration and builds a {@link KubeClient} for it. */
export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const config = await loadConfig(options);
  const transport = new HttpTransport(config);
  const client = new KubeClient(transport, { namespace: config.namespace, ...options.client });
  return {
    client,
    namespace: config.namespace,
    source: config.source,
    server: config.server,
    close: () => transport.close(),
  };
}
