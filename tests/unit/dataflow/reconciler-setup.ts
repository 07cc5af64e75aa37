/** Shared setup of the reconciler unit tests: a sample DataFlow and a reconciler over the fakes. */
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { builtin } from "../../../lib/kube/resources.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { reconcileDataFlow, reconcilerContext } from "../../../lib/dataflow/reconciler.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { DataFlowStatusMetric } from "../../../lib/dataflow/metrics.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import type { DataFlow } from "../../../lib/dataflow/schema.ts";
import type { ProcessorPolicy } from "../../../lib/dataflow/policy.ts";
import { cacheOf, FakeEvents, FakeKube, secretWithKeys } from "./fakes.ts";

/** The namespace of every sample. */
export const NS = "team-a";

/** A Kafka-to-PostgreSQL DataFlow whose sink uses Secret pg/dsn. */
export function sample(name = "orders", spec: Record<string, unknown> = {}): DataFlow {
  return {
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace: NS },
    spec: {
      source: { type: "kafka", kafka: { brokers: ["kafka:9092"], topic: "orders" } },
      sink: {
        type: "postgresql",
        postgresql: { connectionStringSecretRef: { name: "pg", key: "dsn" }, table: "orders" },
      },
      ...spec,
    },
  } as DataFlow;
}

/**
 * A reconciler over an in-memory API server (with Secret pg/dsn unless `secrets: false`), under
 * the default processor policy unless `policy` is given.
 */
export function setup(opts: { secrets?: boolean; policy?: ProcessorPolicy } = {}) {
  const clock = new FakeClock(0, Date.UTC(2026, 0, 1));
  const kube = new FakeKube(clock);
  const events = new FakeEvents();
  const registry = new Registry();
  const metrics = new DataFlowStatusMetric(registry);
  const cache = cacheOf(kube, builtin.Secret);
  if (opts.secrets !== false) kube.seed(builtin.Secret, secretWithKeys(NS, "pg", ["dsn"]));
  const ctx = reconcilerContext({
    cache,
    client: kube,
    events,
    metrics,
    settings: { image: "example/processor:1", logLevel: "debug" },
    policy: opts.policy,
    clock,
  });
  const run = (name = "orders") => reconcileDataFlow(ctx, { namespace: NS, name });
  const df = (name = "orders") => kube.lookup<DataFlow>(DataFlowType, NS, name)!;
  const dep = (name = "orders") => kube.lookup<Deployment>(builtin.Deployment, NS, `dataflow-${name}`);
  const cm = (name = "orders") => kube.lookup<ConfigMap>(builtin.ConfigMap, NS, `dataflow-${name}-spec`);
  return { kube, events, registry, cache, ctx, run, df, dep, cm };
}
