/**
 * The operator runtime: informer (list + watch cache), work queue and rate limiters, the
 * controller loop, Lease leader election and the manager. It knows nothing about any particular
 * operator: a reconciler is a function from a key to a result.
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
 */
export {
  abortableDelay,
  type Clock,
  FakeClock,
  flushMicrotasks,
  jitter,
  realClock,
  type TimerHandle,
} from "../time/mod.ts";
export * from "./controller.ts";
export * from "./fence.ts";
export * from "./informer.ts";
export * from "./keys.ts";
export * from "./lease.ts";
export * from "./namespaced.ts";
export * from "./manager.ts";
export * from "./queue.ts";
export * from "./ratelimit.ts";
