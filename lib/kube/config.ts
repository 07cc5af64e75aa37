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
  /** A kubeconfig file (the `--kubeconfig` flag); wins over KUBECONFIG and in-cluster. */
  kubeconfig?: string;
  /** The kubeconfig context to use (default: its current-context). */
  context?: string;
  /** The environment to read KUBECONFIG, HOME and the in-cluster variables from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * The User-Agent header of every request, e.g. `defaultUserAgent("my-operator/1.2.0")`
   * (default: `defaultUserAgent()`, the toolkit's name, the OS and the runtime).
   */
  userAgent?: string;
  /** Options of the {@link KubeClient} built (the namespace defaults to the configuration's). */
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
  /** The client. */
  client: KubeClient;
  /** The namespace of the context or the pod (also `client.namespace`). */
  namespace: string;
  /** Where the configuration came from, e.g. `kubeconfig /home/me/.kube/config, context dev` or `in-cluster`. */
  source: string;
  /** The API server's URL. */
  server: string;
  /** Frees the pooled connections. */
  close(): void;
}

/** Loads the configuration and builds a {@link KubeClient} for it. */
export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const config = await loadConfig(options);
  const transport = new HttpTransport({ ...config, userAgent: options.userAgent ?? config.userAgent });
  const client = new KubeClient(transport, { namespace: config.namespace, ...options.client });
  return {
    client,
    namespace: config.namespace,
    source: config.source,
    server: config.server,
    close: () => transport.close(),
  };
}
