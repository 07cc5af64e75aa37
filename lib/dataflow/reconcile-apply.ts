/**
 * The reconcile of a live DataFlow that carries the finalizer: check the spec (the schema, the
 * processor policy, the Secret references, the ConfigMap's size), build the desired ConfigMap and
 * Deployment, write each only when it differs, and report the phase the Deployment shows.
 *
 * Each check that fails records the failure (status Error and one Warning event while it stays
 * the same) and ends the reconcile without a retry: only a change of the spec, the policy or a
 * referenced Secret can fix it, and each of those triggers a reconcile.
 */
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import { BadRequestError, InvalidError, isConflict, isNotFound, type KubeObject } from "../kube/mod.ts";
import type { ReconcileResult } from "../runtime/mod.ts";
import { buildConfigMap, buildDeployment, configHash, specJson } from "./builders.ts";
import { specElided } from "./cached.ts";
import { configMapName, DataFlowType, deploymentName } from "./names.ts";
import { ConfigMapKind, DeploymentKind, ensureOwned, NotOwnedError, type OwnedKind } from "./owned.ts";
import { checkPlacement, policyViolationMessage } from "./policy.ts";
import {
  emit,
  failureText,
  logWrite,
  type ReconcileScope,
  recordFailure,
  updateStatus,
} from "./reconcile-context.ts";
import type { DataFlow, DataFlowSpec } from "./schema.ts";
import { collectSecretRefs, resolveSecretRefs, type SecretResolution } from "./secrets.ts";
import { phaseFromDeployment } from "./status.ts";

/** The spec checks: the zod schema's and the ConfigMap's size limit. */
interface SpecChecks {
  checkSpec: typeof import("./schema.ts").checkSpec;
  checkSpecSize: typeof import("./limits.ts").checkSpecSize;
}

let specChecks: Promise<SpecChecks> | undefined;

/**
 * Loads the spec checks on first use. Building the zod schema takes tens of milliseconds, so the
 * first reconcile that checks a spec loads them, after a new DataFlow's finalizer went out, and an
 * operator without DataFlows never does. A load that fails fails that reconcile (retried with
 * backoff) and is tried again by the next.
 */
function loadSpecChecks(): Promise<SpecChecks> {
  return specChecks ??= Promise.all([import("./schema.ts"), import("./limits.ts")]).then(
    ([schema, limits]) => ({ checkSpec: schema.checkSpec, checkSpecSize: limits.checkSpecSize }),
    (err) => {
      specChecks = undefined; // a failed load is this reconcile's error; the next one tries again
      throw err;
    },
  );
}

/** A spec that passed every check, with what the owned objects are built from. */
interface CheckedSpec {
  spec: DataFlowSpec;
  /** The processor's spec.json, as the ConfigMap carries it. */
  json: string;
  /** The Secret references, resolved to mounts and versions. */
  secrets: Extract<SecretResolution, { ok: true }>;
}

/** The objects a DataFlow asks for. */
interface DesiredObjects {
  configMap: ConfigMap & KubeObject;
  deployment: Deployment & KubeObject;
}

/** An owned object written (or found as desired), or the result that ends the reconcile. */
type OwnedStep<T> = { object: T } | { result: ReconcileResult };

/**
 * Reconciles a live DataFlow carrying the finalizer: checks, owned objects, status. `df` may be
 * the cache's copy without a large spec; the whole object is then read for this reconcile only.
 */
export async function applyDataFlow(scope: ReconcileScope, df: DataFlow): Promise<ReconcileResult> {
  // A large spec is not cached (cached.ts): read the whole object, for this reconcile only.
  const current = specElided(df) ? await readWhole(scope, df) : df;
  if (!current) return;
  const checked = await checkSpec(scope, current);
  if (!checked) return;
  const desired = desiredObjects(scope, current, checked);
  const { cache } = scope.ctx;
  const cm = await ensureObject(
    scope,
    current,
    ConfigMapKind,
    () => cache.configMap(scope.namespace, configMapName(scope.name)),
    desired.configMap,
  );
  if ("result" in cm) return cm.result;
  const dep = await ensureObject(
    scope,
    current,
    DeploymentKind,
    () => cache.deployment(scope.namespace, deploymentName(scope.name)),
    desired.deployment,
  );
  if ("result" in dep) return dep.result;
  await updateStatus(scope, current, phaseFromDeployment(dep.object));
}

/** The DataFlow from the API server (undefined when it is gone or was replaced by a new one). */
async function readWhole(scope: ReconcileScope, cached: DataFlow): Promise<DataFlow | undefined> {
  try {
    const whole = await scope.ctx.client.get<DataFlow>(DataFlowType, scope.name, {
      namespace: scope.namespace,
      signal: scope.signal,
    });
    scope.log.debug(
      "read DataFlow {dataflow_namespace}/{dataflow_name} ({bytes} bytes of spec, not cached)",
      {
        bytes: JSON.stringify(whole.spec ?? {}).length,
      },
    );
    return whole.metadata.uid === cached.metadata.uid ? whole : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Checks the spec in order (schema, processor policy, Secret references, ConfigMap size);
 * resolves with the checked spec, or undefined after recording the first failure.
 */
async function checkSpec(scope: ReconcileScope, current: DataFlow): Promise<CheckedSpec | undefined> {
  const { ctx, namespace, name } = scope;
  // A refusal: phase Error for `reason`, the same words in the status and the Warning event.
  const refuse = async (reason: string, message: string): Promise<undefined> => {
    await recordFailure(scope, current, { phase: "Error", message, reason }, reason, message);
    return undefined;
  };
  const checks = await loadSpecChecks();
  const check = checks.checkSpec(current.spec);
  if (!check.ok) return await refuse("InvalidSpec", `Invalid DataFlow spec: ${check.problems.join("; ")}`);
  const spec = check.spec;

  // The admin's processor policy, before anything is built: a violation writes nothing for the
  // processor (a running one keeps its last accepted Deployment) until the spec or the policy
  // changes (a policy change restarts the operator, which reconciles every DataFlow).
  const violations = checkPlacement(spec, ctx.policy);
  if (violations.length) return await refuse("PolicyViolation", policyViolationMessage(violations));

  // The Secret watch re-reconciles when a referenced Secret appears or changes.
  const secrets = resolveSecretRefs(
    collectSecretRefs(spec),
    namespace,
    (n) => ctx.cache.secret(namespace, n),
  );
  if (!secrets.ok) {
    return await refuse("SecretResolutionFailed", `Failed to resolve secrets: ${secrets.message}`);
  }

  const json = specJson(spec);
  // A spec the CRD's limits let through but the ConfigMap cannot hold (multi-byte characters,
  // a large affinity): refused naming its largest fields, not by the ConfigMap write.
  const tooLarge = checks.checkSpecSize(json, configMapName(name));
  if (tooLarge) return await refuse("InvalidSpec", `Invalid DataFlow spec: ${tooLarge}`);
  return { spec, json, secrets };
}

/** The ConfigMap and Deployment a checked DataFlow asks for. */
function desiredObjects(
  scope: ReconcileScope,
  current: DataFlow,
  checked: CheckedSpec,
): DesiredObjects {
  const { spec, json, secrets } = checked;
  return {
    configMap: buildConfigMap(current, json) as ConfigMap & KubeObject,
    deployment: buildDeployment(current, {
      spec,
      mounts: secrets.mounts,
      hash: configHash(json, secrets.versions),
      settings: scope.ctx.settings,
    }) as Deployment & KubeObject,
  };
}

/**
 * Creates or updates one owned object (the ConfigMap `dataflow-<name>-spec`, the Deployment
 * `dataflow-<name>`) when it differs from `desired`, with its event and log line; on failure, the
 * Go operator's wording, naming the object and saying what the API answered
 * (`Failed to create Deployment dataflow-x: Deployment.apps "dataflow-x" is invalid: ...`).
 */
async function ensureObject<T extends KubeObject>(
  scope: ReconcileScope,
  current: DataFlow,
  kind: OwnedKind<T>,
  cached: () => T | undefined,
  desired: T,
): Promise<OwnedStep<T>> {
  const label = kind.rt.kind;
  const objName = desired.metadata?.name ?? "";
  try {
    const { object, action } = await ensureOwned(
      kind,
      cached(),
      desired,
      current,
      scope.ctx.client,
      scope.signal,
    );
    if (action === "created") {
      logWrite(scope, "created", label, objName);
      emit(scope, current, "Normal", `${label}Created`, `Created ${label} ${objName}`);
    }
    if (action === "updated") {
      logWrite(scope, "updated", label, objName);
      emit(scope, current, "Normal", `${label}Updated`, `Updated ${label} ${objName}`);
    }
    return { object };
  } catch (err) {
    if (isConflict(err) || scope.signal?.aborted) throw err; // stale cache or shutdown: retry quietly
    const text = failureText(scope, err);
    await recordFailure(
      scope,
      current,
      { phase: "Error", message: `Failed to create ${label} ${objName}: ${text}`, reason: `${label}Failed` },
      `${label}Failed`,
      // The Go operator's documented event text, exactly; its error part in the API's words.
      `Failed to create or update ${label}: ${text}`,
    );
    if (err instanceof NotOwnedError) return { result: { requeueAfterMs: scope.ctx.notOwnedRetryMs } };
    // The API server refused the object itself (a malformed affinity: 422; an unknown field under
    // strict field validation: 400): retrying cannot help, a spec change (which triggers a
    // reconcile) can.
    if (err instanceof InvalidError || err instanceof BadRequestError) return { result: undefined };
    throw err;
  }
}
