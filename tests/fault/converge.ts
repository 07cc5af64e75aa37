/**
 * What "converged" means for one namespace after the faults stop, read from the API server as
 * admin: every live DataFlow has exactly one ConfigMap and one Deployment that it controls and
 * that match its current spec (and the current versions of the Secrets it references), its
 * status has caught up with its generation, no dataflow-* object lacks a live owner, and the
 * DataFlows that were deleted left nothing behind. Each mismatch is one line naming the object,
 * what was expected and what was found.
 */
import type { ConfigMap, Secret } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { OwnerReference } from "kubernetes-types/meta/v1";
import type { KubeClient } from "../../lib/kube/client.ts";
import { builtin, resourceType } from "../../lib/kube/resources.ts";
import { configHash } from "../../lib/dataflow/builders.ts";
import { CONFIG_HASH_ANNOTATION, FINALIZER, NAME_LABEL } from "../../lib/dataflow/names.ts";
import type { DataFlowBody } from "../e2e/fixtures.ts";
import { waitFor } from "../tools/wait.ts";

/** The DataFlow resource type. */
export const DATAFLOW = resourceType("dataflow.dataflow.io/v1", "DataFlow", "dataflows");

/** A DataFlow as listed, with the optional blocks the churn edits. */
export type DataFlowObject = DataFlowBody & {
  metadata: DataFlowBody["metadata"] & { deletionTimestamp?: string; uid: string; generation: number };
  spec: DataFlowBody["spec"] & {
    nodeSelector?: Record<string, string>;
    resources?: { limits?: Record<string, string> };
  };
};

/** What the convergence check needs besides the API server's state. */
export interface ConvergeOptions {
  /** Names whose last operation was a successful delete: nothing of theirs may remain. */
  deleted?: Iterable<string>;
  /** The phase every live DataFlow must reach (default Running: the kubelet stand-in marks them ready). */
  phase?: string;
}

function controllerOf(refs?: OwnerReference[]): OwnerReference[] {
  return (refs ?? []).filter((r) => r.controller);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** Every mismatch in namespace `ns`; empty when converged. */
export async function convergenceProblems(
  client: KubeClient,
  ns: string,
  options: ConvergeOptions = {},
): Promise<string[]> {
  const wantPhase = options.phase ?? "Running";
  const [dfs, cms, deps, secrets] = await Promise.all([
    client.listAll<DataFlowObject>(DATAFLOW, { namespace: ns }),
    client.listAll<ConfigMap>(builtin.ConfigMap, { namespace: ns }),
    client.listAll<Deployment>(builtin.Deployment, { namespace: ns }),
    client.listAll<Secret>(builtin.Secret, { namespace: ns }),
  ]);
  const problems: string[] = [];
  const live = new Map(dfs.items.map((d) => [d.metadata.uid, d]));
  const secretRv = new Map(secrets.items.map((s) => [s.metadata!.name!, s.metadata!.resourceVersion!]));
  const cmByOwner = new Map<string, ConfigMap[]>();
  const depByOwner = new Map<string, Deployment[]>();

  // Orphans and duplicates: every dataflow-* object needs exactly one controller that is alive.
  for (
    const [kind, items, byOwner] of [
      ["ConfigMap", cms.items, cmByOwner],
      ["Deployment", deps.items, depByOwner],
    ] as const
  ) {
    for (const o of items) {
      const name = o.metadata!.name!;
      if (!name.startsWith("dataflow-")) continue;
      const ctl = controllerOf(o.metadata?.ownerReferences);
      if (ctl.length !== 1) {
        problems.push(`${kind} ${name}: ${ctl.length} controller owner references, want 1`);
        continue;
      }
      const owner = live.get(ctl[0].uid);
      if (!owner) {
        problems.push(`${kind} ${name}: orphan (owner DataFlow ${ctl[0].name} uid ${ctl[0].uid} is gone)`);
        continue;
      }
      const list = (byOwner as Map<string, unknown[]>).get(owner.metadata.uid) ?? [];
      list.push(o);
      (byOwner as Map<string, unknown[]>).set(owner.metadata.uid, list);
    }
  }

  for (const df of dfs.items) {
    const { name, uid, generation } = df.metadata;
    const id = `DataFlow ${name}`;
    if (df.metadata.deletionTimestamp) {
      problems.push(`${id}: still terminating (finalizers ${JSON.stringify(df.metadata.finalizers)})`);
      continue;
    }
    if (!df.metadata.finalizers?.includes(FINALIZER)) problems.push(`${id}: no finalizer ${FINALIZER}`);
    const st = df.status ?? {};
    if (st.observedGeneration !== generation) {
      problems.push(`${id}: status.observedGeneration ${st.observedGeneration}, want ${generation}`);
    }
    if (st.phase !== wantPhase) problems.push(`${id}: phase ${st.phase} (${st.message}), want ${wantPhase}`);

    const ownedCms = cmByOwner.get(uid) ?? [];
    const ownedDeps = depByOwner.get(uid) ?? [];
    if (ownedCms.length !== 1) {
      problems.push(`${id}: ${ownedCms.length} ConfigMaps it controls, want 1 (dataflow-${name}-spec)`);
    }
    if (ownedDeps.length !== 1) {
      problems.push(`${id}: ${ownedDeps.length} Deployments it controls, want 1 (dataflow-${name})`);
    }
    const cm = ownedCms[0], dep = ownedDeps[0];
    if (!cm || !dep) continue;
    if (cm.metadata?.labels?.[NAME_LABEL] !== name) {
      problems.push(`ConfigMap ${cm.metadata?.name}: bad name label`);
    }

    // The ConfigMap carries the current spec (the fields the churn edits, compared independently).
    let spec: DataFlowObject["spec"] | undefined;
    try {
      spec = JSON.parse(cm.data?.["spec.json"] ?? "");
    } catch {
      problems.push(`ConfigMap ${cm.metadata?.name}: spec.json is not JSON`);
      continue;
    }
    const checks: Array<[string, unknown, unknown]> = [
      ["source.kafka.topic", spec?.source?.kafka?.topic, df.spec.source.kafka.topic],
      ["source.kafka.consumerGroup", spec?.source?.kafka?.consumerGroup, df.spec.source.kafka.consumerGroup],
      [
        "source.kafka.avroSchema",
        (spec?.source?.kafka as { avroSchema?: string } | undefined)?.avroSchema,
        (df.spec.source.kafka as { avroSchema?: string }).avroSchema,
      ],
      ["sink.postgresql.table", spec?.sink?.postgresql?.table, df.spec.sink.postgresql.table],
    ];
    const ref = df.spec.sink.postgresql.connectionStringSecretRef as
      | { name: string; key: string }
      | undefined;
    const cmRef = spec?.sink?.postgresql?.connectionStringSecretRef as
      | { name?: string; key?: string }
      | undefined;
    checks.push([
      "sink.postgresql.connectionStringSecretRef",
      cmRef && [cmRef.name, cmRef.key],
      ref && [
        ref.name,
        ref.key,
      ],
    ]);
    for (const [field, got, want] of checks) {
      if (!same(got, want)) {
        problems.push(
          `ConfigMap ${cm.metadata?.name}: ${field} ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
        );
      }
    }

    // The Deployment carries the spec's placement and resources, and a hash of the ConfigMap it
    // mounts and the current version of each referenced Secret (so no rotation was missed).
    const pod = dep.spec?.template?.spec;
    const dname = dep.metadata?.name;
    if (!same(pod?.nodeSelector, df.spec.nodeSelector)) {
      problems.push(
        `Deployment ${dname}: nodeSelector ${JSON.stringify(pod?.nodeSelector)}, want ${
          JSON.stringify(df.spec.nodeSelector)
        }`,
      );
    }
    const wantCpu = df.spec.resources?.limits?.cpu;
    const gotCpu = pod?.containers?.[0]?.resources?.limits?.cpu;
    if (wantCpu !== undefined && gotCpu !== wantCpu) {
      problems.push(`Deployment ${dname}: limits.cpu ${gotCpu}, want ${wantCpu}`);
    }
    const versions: Record<string, string> = {};
    if (ref) versions[ref.name] = secretRv.get(ref.name) ?? "(missing Secret)";
    const wantHash = configHash(cm.data!["spec.json"], versions);
    const gotHash = dep.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    if (gotHash !== wantHash) {
      problems.push(`Deployment ${dname}: ${CONFIG_HASH_ANNOTATION} ${gotHash}, want ${wantHash} (stale)`);
    }
  }

  const liveNames = new Set(dfs.items.map((d) => d.metadata.name));
  for (const name of options.deleted ?? []) {
    if (liveNames.has(name)) continue; // re-created since: checked above as a live one
    for (
      const [kind, items, objName] of [
        ["ConfigMap", cms.items, `dataflow-${name}-spec`],
        ["Deployment", deps.items, `dataflow-${name}`],
      ] as const
    ) {
      if (items.some((o) => o.metadata?.name === objName)) {
        problems.push(`deleted DataFlow ${name}: its ${kind} ${objName} is still there`);
      }
    }
  }
  return problems;
}

/**
 * Waits ({@link waitFor}) until {@link convergenceProblems} finds none; on timeout throws with the
 * count and the first problems (names, expected vs actual) and `context` (the seed, the fault
 * summary). Resolves with how long convergence took, for the suite's timeline.
 */
export async function waitConverged(
  client: KubeClient,
  ns: string,
  options: ConvergeOptions & { timeoutMs: number; context?: () => string },
): Promise<{ ms: number }> {
  const start = Date.now();
  let problems: string[] = ["(not checked yet)"];
  await waitFor(`convergence, ${options.timeoutMs} ms after the faults stopped`, async () => {
    problems = await convergenceProblems(client, ns, options);
    return problems.length === 0;
  }, {
    timeoutMs: options.timeoutMs,
    intervalMs: 1_000,
    describe: () =>
      `${problems.length} problems\n  ` + problems.slice(0, 40).join("\n  ") +
      (problems.length > 40 ? `\n  ... ${problems.length - 40} more` : "") +
      (options.context ? `\n${options.context()}` : ""),
  });
  return { ms: Date.now() - start };
}
