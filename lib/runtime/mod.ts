/**
 * The operator runtime: watcher (the list/watch protocol) and informer (cache, indexes,
 * handlers), work queue and rate limiters, the controller loop over event sources, leader
 * election over a lock, the manager over runnables, and helpers for reconcilers (finalizer,
 * read-your-own-writes). It knows nothing about any particular operator: a reconciler is a
 * function from a key to a result.
 *
 * ```ts
 * const dataflows = new Informer(client, DataFlowType);
 * const deployments = new Informer(client, builtin.Deployment, { labelSelector: "app.kubernetes.io/managed-by=x" });
 * const controller = new Controller({ name: "dataflow", reconcile: async (ctx) => { ... } })
 *   .for(dataflows)
 *   .owns(deployments, { apiVersion: "dataflow.dataflow.io/v1", kind: "DataFlow" });
 * const mgr = new Manager({ client, name: "dataflow-operator", leaderElection: { namespace, leaseName } });
 * mgr.addInformer(dataflows).addInformer(deployments).addController(controller);
 * process.exit(await mgr.run());
 * ```
 * @module
 */
export { Controller, type ControllerOptions, type OwnerKind } from "./controller.ts";
export {
  isTerminalError,
  type ReconcileContext,
  type Reconciler,
  type ReconcileResult,
  TerminalError,
} from "./reconciler.ts";
export { CacheSyncTimeoutError, type EventSource, type SourceHandlers } from "./source.ts";
export { Watcher } from "./watcher.ts";
export type { WatcherOptions, WatcherStats, WatcherStep } from "./watcher-options.ts";
export { Informer } from "./informer.ts";
export type { IndexName, InformerHandlers, InformerOptions, InformerStats } from "./informer-options.ts";
export { NamespacedInformers } from "./namespaced.ts";
export { controllerIndexValue, controllerOf, type Keyed, objectKey, ownerKey, splitKey } from "./keys.ts";
export { LeaderElector } from "./lease.ts";
export { LeadershipLostError } from "./leader-lock.ts";
export {
  defaultIdentity,
  type LeaderElectionOptions,
  type LeaderElectionSettings,
  type LockElectionOptions,
} from "./election-options.ts";
export type { LeaderLock, LeaseRecord } from "./leader-lock.ts";
export { LeaseLock, type LeaseLockOptions } from "./lease-lock.ts";
export {
  type Check,
  type Closer,
  Manager,
  type ManagerLeaderElection,
  type ManagerOptions,
} from "./manager.ts";
export type { Runnable, RunnableStopOptions } from "./runnable.ts";
export type { ManagedCache, ManagedController } from "./runnables.ts";
export {
  type AddOptions,
  LOW_PRIORITY,
  type ShutDownOptions,
  WorkQueue,
  type WorkQueueOptions,
} from "./queue.ts";
export {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ExponentialRateLimiter,
  FastSlowRateLimiter,
  MaxOfRateLimiter,
  MaxWaitRateLimiter,
  type RateLimiter,
} from "./ratelimit.ts";
export { FencedTransport, WriteFencedError } from "./fence.ts";
export {
  finalizer,
  type FinalizerChange,
  type FinalizerHandlers,
  type FinalizerOptions,
  type FinalizerWrites,
  hasFinalizer,
  isDeleting,
} from "./finalizer.ts";
export { OwnWrites, type OwnWritesOptions } from "./own-writes.ts";
export { useFullJit } from "./jit.ts";
