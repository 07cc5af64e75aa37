/**
 * The DataFlow operator's assembly: the toolkit's parts wired for DataFlows. Informers (DataFlows;
 * owned ConfigMaps and Deployments by label only, never every ConfigMap of the cluster; Secrets as
 * metadata only; optionally the operator's own Deployment), the controller running
 * `reconcileDataFlow`, the event recorder, and the manager with leader election, health and
 * metrics. Nothing here decides what a DataFlow needs: that is the reconciler's (reconciler.ts).
 */
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { builtin, type KubeClient, type KubeObject, type ResourceType } from "../kube/mod.ts";
import { EventRecorder, type EventSink } from "../events/mod.ts";
import { defaultRegistry, logger, registerProcessMetrics, type Registry } from "../observe/mod.ts";
import {
  Controller,
  defaultControllerRateLimiter,
  Informer,
  Manager,
  type ManagerLeaderElection,
  NamespacedInformers,
  objectKey,
  useFullJit,
} from "../runtime/mod.ts";
import type { ProcessorSettings } from "./builders.ts";
import { referencedSecrets, slimConfigMap, slimDataFlow, slimDeployment } from "./cached.ts";
import { DataFlowStatusMetric } from "./metrics.ts";
import { API_VERSION, DataFlowType, EVENT_COMPONENT, KIND, OWNED_SELECTOR } from "./names.ts";
import type { ProcessorPolicy } from "./policy.ts";
import { type DataFlowCache, reconcileDataFlow, reconcilerContext } from "./reconciler.ts";
import type { DataFlow } from "./schema.ts";
import { secretKeysFromManagedFields } from "./secrets.ts";

const log = logger("operator", "controller");

/** The Lease name of leader election (the Go operator's LeaderElectionID). */
export const LEASE_NAME = "dataflow-operator.dataflow.io";

/** The longest wait between two retries of a failing DataFlow. */
export const MAX_RETRY_BACKOFF_MS = 300_000;

/** Options of {@link createOperator}. */
export interface OperatorOptions {
  client: KubeClient;
  /** Watch only these namespaces, one informer each (default: all namespaces). */
  namespaces?: string[];
  processor: ProcessorSettings;
  /** What DataFlows may ask for in placement and resources (default: DEFAULT_PROCESSOR_POLICY). */
  processorPolicy?: ProcessorPolicy;
  /** The operator's own Deployment: a change of it re-reconciles every DataFlow. */
  operatorDeployment?: { name: string; namespace: string };
  /** Lease election (default off here; the CLI turns it on). */
  leaderElection?: ManagerLeaderElection | false;
  healthBindAddress?: string;
  metricsBindAddress?: string;
  registry?: Registry;
  handleSignals?: boolean;
  /** Replaces the event recorder (tests). */
  events?: EventSink;
  /** Workers (default 1, as the Go operator; the CLI defaults to 4, see --max-concurrent-reconciles). */
  concurrency?: number;
  /** How long the leader waits for its caches to sync before it gives up and exits (default 2 min). */
  cacheSyncTimeoutMs?: number;
}

/**
 * How long a shutdown waits for in-flight reconciles: 5 s inside the 30 s the manifests give the
 * pod (terminationGracePeriodSeconds), so the event flush and the Lease release that follow
 * happen before the kubelet's SIGKILL.
 */
const SHUTDOWN_TIMEOUT_MS = 25_000;

/** A built operator: call `manager.run()`. */
export interface Operator {
  manager: Manager;
  controller: Controller;
  dataflows: NamespacedInformers<DataFlow>;
  configMaps: NamespacedInformers<KubeObject>;
  deployments: NamespacedInformers<KubeObject>;
  secrets: NamespacedInformers<KubeObject>;
  events: EventSink;
}

/** The keys a Secret's metadata-only cache entry keeps: its data keys, not its managedFields. */
const DATA_KEYS = "dataKeys";

/** Reconciles are waiting: keys ready in the work queue while every worker is busy. */
export function reconcilesWaiting(controller: Controller): boolean {
  return controller.queue.len() > 0 && controller.queue.processing >= controller.concurrency;
}

/** Builds the operator. Nothing starts until `manager.run()`. */
export function createOperator(options: OperatorOptions): Operator {
  const { client, namespaces } = options;
  const registry = options.registry ?? defaultRegistry;
  // process_cpu_seconds_total, process_resident_memory_bytes, ...: computed on every scrape.
  registerProcessMetrics(registry);
  const manager = new Manager({
    client,
    name: "dataflow-operator",
    leaderElection: options.leaderElection ?? false,
    healthBindAddress: options.healthBindAddress,
    metricsBindAddress: options.metricsBindAddress,
    registry,
    handleSignals: options.handleSignals,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
  });
  // Writes go through the manager's fenced client: a replica that is not the leader cannot write.
  const writer = manager.client;

  // One informer per watched namespace and kind, so RBAC need only grant those namespaces.
  const scoped = <T extends KubeObject>(
    name: string,
    make: (ns: string | undefined, name: string) => Informer<T>,
  ) => new NamespacedInformers<T>(namespaces, (ns) => make(ns, namespaces?.length ? `${name}@${ns}` : name));
  const dataflows = scoped<DataFlow>(
    "dataflows",
    (namespace, name) =>
      new Informer<DataFlow>(client, DataFlowType, {
        namespace,
        name,
        registry,
        // One object at a time from the watch cache, never a page of 500 large specs at once.
        streamingList: true,
        transform: slimDataFlow,
      }),
  );
  // The owned kinds by label only, never every ConfigMap of the cluster, each cached in part.
  const owned = (name: string, rt: ResourceType, transform: (obj: KubeObject) => KubeObject) =>
    scoped(name, (namespace, informerName) =>
      new Informer(client, rt, {
        namespace,
        labelSelector: OWNED_SELECTOR,
        name: informerName,
        registry,
        streamingList: true,
        transform,
      }));
  const configMaps = owned("owned-configmaps", builtin.ConfigMap, slimConfigMap);
  const deployments = owned("owned-deployments", builtin.Deployment, slimDeployment);
  const secrets = scoped("secrets-metadata", (namespace, name) =>
    new Informer(client, builtin.Secret, {
      namespace,
      metadataOnly: true,
      // Keep managedFields until the transform has read the data keys from them, then drop them.
      stripManagedFields: false,
      transform: (obj) => {
        const keys = secretKeysFromManagedFields(
          obj.metadata?.managedFields as { fieldsV1?: Record<string, unknown> }[] | undefined,
        );
        const { managedFields: _dropped, ...metadata } = obj.metadata ?? {};
        return { apiVersion: obj.apiVersion, kind: obj.kind, metadata, [DATA_KEYS]: keys };
      },
      name,
      registry,
    }));

  // Reconcile writes go first: while DataFlows wait for a worker and every worker is busy, the
  // recorder keeps event writes at its floor (one in flight); otherwise it uses what the API
  // server gives (lib/events/README.md).
  let busyController: Controller | undefined = undefined;
  const events = options.events ?? new EventRecorder(writer, {
    component: EVENT_COMPONENT,
    registry,
    busy: () => busyController !== undefined && reconcilesWaiting(busyController),
  });
  const key = (ns: string, name: string) => `${ns}/${name}`;
  const cache: DataFlowCache = {
    dataflow: (ns, name) => dataflows.get(key(ns, name)),
    configMap: (ns, name) => configMaps.get(key(ns, name)) as (ConfigMap & KubeObject) | undefined,
    deployment: (ns, name) => deployments.get(key(ns, name)) as (Deployment & KubeObject) | undefined,
    secret: (ns, name) => {
      const s = secrets.get(key(ns, name));
      if (!s) return undefined;
      return {
        name,
        resourceVersion: s.metadata?.resourceVersion ?? "",
        keys: s[DATA_KEYS] as string[] | undefined,
      };
    },
  };
  const reconciler = reconcilerContext({
    cache,
    client: writer,
    events,
    settings: options.processor,
    policy: options.processorPolicy,
    metrics: new DataFlowStatusMetric(registry),
  });
  // The JIT's normal tiering (lib/runtime/jit.ts) once there is a DataFlow: reconciles run hot.
  for (const i of dataflows.informers) i.on({ add: () => useFullJit() });

  const owner = { apiVersion: API_VERSION, kind: KIND };
  const controller = new Controller({
    name: "dataflow",
    reconcile: (ctx) => reconcileDataFlow(reconciler, ctx),
    concurrency: options.concurrency,
    // A failing DataFlow is retried 5 ms, 10 ms, ... at most every 5 minutes (controller-runtime:
    // 1000 s); one that failed on the API (unreachable, 403, ...) as soon as the API answers again.
    rateLimiter: defaultControllerRateLimiter({ maxMs: MAX_RETRY_BACKOFF_MS }),
    cacheSyncTimeoutMs: options.cacheSyncTimeoutMs,
    registry,
  });
  busyController = controller;
  for (const i of dataflows.informers) controller.for(i);
  for (const i of configMaps.informers) controller.owns(i, owner);
  for (const i of deployments.informers) controller.owns(i, owner);
  for (const i of secrets.informers) {
    controller.watches(i, (secret) => {
      const ns = secret.metadata?.namespace ?? "";
      const name = secret.metadata?.name ?? "";
      return dataflows.inNamespace(ns).filter((df) => referencedSecrets(df).has(name)).map((df) =>
        objectKey(df)
      );
    });
  }

  if (options.operatorDeployment) {
    const { name, namespace: opNs } = options.operatorDeployment;
    const self = new Informer(client, builtin.Deployment, {
      namespace: opNs,
      fieldSelector: `metadata.name=${name}`,
      name: "operator-deployment",
      registry,
    });
    controller.watches(self, () => {
      log.info("operator Deployment {namespace}/{name} changed; re-reconciling every DataFlow", {
        namespace: opNs,
        name,
      });
      return dataflows.list().map((df) => objectKey(df));
    });
  }

  manager.addController(controller);
  if (events instanceof EventRecorder) {
    // Wrapped only to log the flush report (the manager ignores what a closer resolves to).
    const recorder = events;
    manager.addCloser({
      close: async (opts) => {
        const result = await recorder.close(opts);
        log.debug("event recorder flushed: {result}", { result });
      },
    });
  }
  return { manager, controller, dataflows, configMaps, deployments, secrets, events };
}
