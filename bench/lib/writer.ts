/**
 * The "floor": the writes the operator makes for one new DataFlow, issued by a minimal script
 * straight after each other, with the operator's own builders (so the objects are exactly the
 * operator's: a started operator finds them converged and writes nothing):
 *
 *   POST dataflows, PATCH dataflows (finalizer), POST configmaps, POST deployments,
 *   PATCH dataflows/status, and (optionally) POST events x2 (ConfigMapCreated, DeploymentCreated)
 *
 * Also the DataFlow bodies and the create-only loop the operator benchmarks use.
 */
import type { Deployment } from "kubernetes-types/apps/v1";
import type { KubeClient, KubeObject } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { buildConfigMap, buildDeployment, configHash, specJson } from "../../lib/dataflow/builders.ts";
import { processorSettingsFromEnv } from "../../lib/dataflow/cli.ts";
import { DataFlowType, EVENT_COMPONENT, FIELD_MANAGER, FINALIZER } from "../../lib/dataflow/names.ts";
import { checkSpec, type DataFlow } from "../../lib/dataflow/schema.ts";
import { collectSecretRefs, resolveSecretRefs } from "../../lib/dataflow/secrets.ts";
import { phaseFromDeployment, statusPatch } from "../../lib/dataflow/status.ts";
import { dataflow } from "../../tests/e2e/fixtures.ts";
import { pool } from "./stats.ts";

/** The processor settings of an operator started with an empty environment (the benchmarks' operators). */
const SETTINGS = processorSettingsFromEnv({});

/** A benchmark DataFlow: Kafka -> PostgreSQL with an inline (non-secret) connection string. */
export function benchDataFlow(name: string, namespace: string): KubeObject {
  const body = dataflow(name, { connectionString: `postgres://bench@postgres.${namespace}:5432/bench` });
  return { ...body, metadata: { ...body.metadata, namespace } } as unknown as KubeObject;
}

/** `prefix-00000` .. names. */
export function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, "0")}`);
}

/** Creates the DataFlows only (what a user does; the operator makes the rest). */
export async function createDataFlows(
  client: KubeClient,
  namespace: string,
  dataflowNames: string[],
  concurrency = 16,
): Promise<void> {
  await pool(dataflowNames, concurrency, async (name) => {
    await client.create(DataFlowType, benchDataFlow(name, namespace), { namespace });
  });
}

function event(df: DataFlow, reason: string, message: string): KubeObject {
  const now = new Date().toISOString();
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${df.metadata.name}.`, namespace: df.metadata.namespace },
    involvedObject: {
      apiVersion: df.apiVersion,
      kind: df.kind,
      name: df.metadata.name,
      namespace: df.metadata.namespace,
      uid: df.metadata.uid,
      resourceVersion: df.metadata.resourceVersion,
    },
    reason,
    message,
    type: "Normal",
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: "bench-floor",
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  } as KubeObject;
}

/** Options of {@link writeLikeOperator}. */
export interface FloorOptions {
  /** Also POST the two Normal events the operator emits for a new DataFlow (default true). */
  events?: boolean;
}

/** Creates one DataFlow and makes every write the operator would make for it, in order. */
export async function writeLikeOperator(
  client: KubeClient,
  namespace: string,
  name: string,
  options: FloorOptions = {},
): Promise<void> {
  const opts = { namespace, fieldManager: FIELD_MANAGER };
  let df = await client.create(DataFlowType, benchDataFlow(name, namespace), { namespace }) as DataFlow;
  df = await client.patch<DataFlow>(DataFlowType, name, {
    metadata: { resourceVersion: df.metadata.resourceVersion, finalizers: [FINALIZER] },
  }, { ...opts, type: "merge" });
  const check = checkSpec(df.spec);
  if (!check.ok) throw new Error(`bench DataFlow ${name} is invalid: ${check.problems.join("; ")}`);
  const resolution = resolveSecretRefs(collectSecretRefs(check.spec), namespace, () => undefined);
  if (!resolution.ok) throw new Error(`bench DataFlow ${name}: ${resolution.message}`);
  const json = specJson(check.spec);
  const cm = buildConfigMap(df, json) as KubeObject;
  const dep = buildDeployment(df, {
    spec: check.spec,
    mounts: resolution.mounts,
    hash: configHash(json, resolution.versions),
    settings: SETTINGS,
  }) as KubeObject;
  await client.create(builtin.ConfigMap, cm, opts);
  const created = await client.create(builtin.Deployment, dep, opts) as Deployment;
  const patch = statusPatch(df.status, phaseFromDeployment(created), df.metadata.generation, new Date());
  await client.patch(DataFlowType, name, {
    metadata: { resourceVersion: df.metadata.resourceVersion },
    status: patch,
  }, { ...opts, type: "merge", subresource: "status" });
  if (options.events !== false) {
    await client.create(
      builtin.Event,
      event(df, "ConfigMapCreated", `Created ConfigMap ${cm.metadata!.name}`),
      {
        namespace,
      },
    );
    await client.create(
      builtin.Event,
      event(df, "DeploymentCreated", `Created Deployment ${dep.metadata!.name}`),
      { namespace },
    );
  }
}

/** The floor for many DataFlows, `concurrency` at a time. */
export async function floorWrites(
  client: KubeClient,
  namespace: string,
  dataflowNames: string[],
  concurrency = 16,
  options: FloorOptions = {},
): Promise<void> {
  await pool(dataflowNames, concurrency, (name) => writeLikeOperator(client, namespace, name, options));
}
