/**
 * A Kubernetes operator toolkit for Deno, Bun and Node: the API client, the controller runtime
 * (informers, work queue, controllers, leader election, manager), the event recorder, logging,
 * metrics and health, and time (clocks, backoff, token buckets). Test helpers (a fake clock) are
 * in the `./testing` entry point.
 *
 * ```ts
 * import { builtin, connect, Controller, EventRecorder, Informer, Manager } from "@dataflow/operator-toolkit";
 *
 * const { client } = await connect();
 * const manager = new Manager({ client, name: "demo", leaderElection: false });
 * const configMaps = new Informer(client, builtin.ConfigMap, { labelSelector: "app=demo" });
 * const recorder = new EventRecorder(manager.client, { component: "demo-controller" });
 * const controller = new Controller({
 *   name: "demo",
 *   reconcile: async ({ key }) => {
 *     const cm = configMaps.get(key);
 *     if (cm) recorder.info(cm, "Seen", `ConfigMap ${key} seen`);
 *   },
 * }).for(configMaps);
 * manager.addController(controller).addCloser(recorder);
 * await manager.run();
 * ```
 *
 * Run as the main module (or as the compiled binary) this file is the DataFlow operator's command
 * line (see `--help`); the operator is loaded only then, so importing the toolkit loads none of it.
 *
 * @module
 */
import process from "node:process";

// The client: configuration, verbs, watch, typed errors, the transport seam.
export {
  AlreadyExistsError,
  ApiError,
  BadRequestError,
  builtin,
  type BuiltinKind,
  ConfigError,
  ConflictError,
  connect,
  type Connection,
  ConnectionError,
  type ConnectionSettings,
  type ConnectOptions,
  type Credentials,
  type CredentialSource,
  defaultUserAgent,
  type DeleteOptions,
  discoverResource,
  errorFromResponse,
  errorFromStatus,
  type ExecClusterInfo,
  type ExecConfig,
  execCredentials,
  type FieldsV1,
  ForbiddenError,
  GoneError,
  HttpTransport,
  IN_CLUSTER_SOURCE,
  inClusterConfig,
  InvalidError,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isInCluster,
  isNotFound,
  isRetryable,
  KubeClient,
  type KubeClientOptions,
  type KubeObject,
  type KubeRequest,
  type ListMeta,
  type ListOptions,
  loadConfig,
  type ManagedFieldsEntry,
  type Middleware,
  NamespaceRequiredError,
  NotFoundError,
  type ObjectLike,
  type ObjectList,
  type ObjectMeta,
  type OwnerReference,
  type PatchOptions,
  type PatchType,
  type ReadOptions,
  type RefuseWrite,
  type ResolvedConfig,
  resourcePath,
  type ResourceType,
  resourceType,
  ResponseBodyError,
  type RetryPolicy,
  ServerError,
  stackTransport,
  staticCredentials,
  type Status,
  type StatusCause,
  type StatusDetails,
  type Time,
  type TlsSettings,
  tokenFileCredentials,
  TooManyRequestsError,
  type Transport,
  UnauthorizedError,
  type WatchEvent,
  WatchIdleError,
  type WatchOptions,
  wrapTransport,
  WriteGate,
  writeGate,
  type WriteOptions,
  WriteRefusedError,
} from "./lib/kube/mod.ts";

// The runtime: watcher, informers, queue, controllers, leader election, manager, reconciler helpers.
export {
  type AddOptions,
  BucketRateLimiter,
  CacheSyncTimeoutError,
  type Check,
  type Closer,
  Controller,
  controllerIndexValue,
  controllerOf,
  type ControllerOptions,
  defaultControllerRateLimiter,
  defaultIdentity,
  type EventSource,
  ExponentialRateLimiter,
  FastSlowRateLimiter,
  FencedTransport,
  finalizer,
  type FinalizerChange,
  type FinalizerHandlers,
  type FinalizerOptions,
  type FinalizerWrites,
  hasFinalizer,
  type IndexName,
  Informer,
  type InformerHandlers,
  type InformerOptions,
  type InformerStats,
  isDeleting,
  isTerminalError,
  type Keyed,
  type LeaderElectionOptions,
  type LeaderElectionSettings,
  LeaderElector,
  type LeaderLock,
  LeadershipLostError,
  LeaseLock,
  type LeaseLockOptions,
  type LeaseRecord,
  type LockElectionOptions,
  LOW_PRIORITY,
  type ManagedCache,
  type ManagedController,
  Manager,
  type ManagerLeaderElection,
  type ManagerOptions,
  MaxOfRateLimiter,
  MaxWaitRateLimiter,
  NamespacedInformers,
  objectKey,
  ownerKey,
  type OwnerKind,
  OwnWrites,
  type OwnWritesOptions,
  type RateLimiter,
  type ReconcileContext,
  type Reconciler,
  type ReconcileResult,
  type Runnable,
  type RunnableStopOptions,
  type ShutDownOptions,
  type SourceHandlers,
  splitKey,
  TerminalError,
  useFullJit,
  Watcher,
  type WatcherOptions,
  type WatcherStats,
  type WatcherStep,
  WorkQueue,
  type WorkQueueOptions,
  WriteFencedError,
} from "./lib/runtime/mod.ts";

// The event recorder.
export {
  type CloseOptions,
  type CloseResult,
  type ConcurrencyBounds,
  type EventFields,
  EventRecorder,
  type EventRecorderOptions,
  type EventSink,
  type EventTarget,
  type EventType,
  type ObjectReferenceLike,
  type RecorderSettings,
  type Reporter,
} from "./lib/events/mod.ts";

// Logs, metrics, the health and metrics server.
export {
  type CheckLogLevel,
  type CheckResult,
  configureLogging,
  Counter,
  DEFAULT_BUCKETS,
  DEFAULT_ROOT_CATEGORY,
  defaultRegistry,
  exponentialBuckets,
  Gauge,
  type HealthCheck,
  HealthChecks,
  Histogram,
  isDisabledAddress,
  type Labels,
  type LogFormat,
  type Logger,
  logger,
  type LoggingOptions,
  type LogLevel,
  type LogProperties,
  Metric,
  type ObserveServer,
  type ObserveServerOptions,
  parseBindAddress,
  type ProcessMetricsOptions,
  registerProcessMetrics,
  Registry,
  type StartedServer,
  startObserveServer,
  startServer,
  toLogFormat,
  toLogLevel,
} from "./lib/observe/mod.ts";

// Time: clocks, timers, backoff, token buckets.
export {
  abortableDelay,
  backgroundClock,
  Backoff,
  type BackoffOptions,
  type Budget,
  type Clock,
  deadlineSignal,
  exponentialDelay,
  jitter,
  realClock,
  sleepOn,
  type TimerHandle,
  TokenBucket,
  unrefTimer,
} from "./lib/time/mod.ts";

if (import.meta.main) {
  // Loaded here and only here: the operator (and zod, and its embedded manifests) is no part of
  // the toolkit a program imports.
  const { main } = await import("./lib/cli/main.ts");
  // Deno.args is exact on Deno (also when compiled); elsewhere argv holds the runtime and script first.
  const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
  process.exitCode = await main(deno ? deno.args : process.argv.slice(2));
  process.exit();
}
