/**
 * The DataFlow reconciler: reads the caches, computes the desired objects (pure builders, secret
 * resolution, status), writes only what differs through a {@link KubeWrites}, and emits exactly
 * the documented events. It needs no network of its own: unit tests hand it in-memory caches and
 * a fake client.
 *
 * Events: a Normal event for each create/update/delete actually done; a Warning when a failure
 * first appears or its message changes (the status message is the memory), so a persisting failure
 * retried with backoff, or an idle resync, does not repeat it.
 *
 * Logs: one info line per write (`created Deployment team-a/dataflow-x for DataFlow team-a/x`,
 * the finalizer and status patches too; an unchanged DataFlow writes nothing, so an idle resync
 * logs nothing); a warning when a failure appears or changes, in the words of its status message;
 * the HTTP request behind a failure at debug. Event emissions are logged (at debug) by the
 * recorder, once each.
 */
import type { ConfigMap } from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { KubeObject } from "../kube/client.ts";
import { ApiError, BadRequestError, InvalidError, isConflict, isNotFound } from "../kube/errors.ts";
import { builtin } from "../kube/resources.ts";
import type { EventSink, EventTarget } from "../events/mod.ts";
import { type Logger, logger } from "../observe/log.ts";
import type { ReconcileResult } from "../runtime/mod.ts";
import { buildConfigMap, buildDeployment, configHash, type ProcessorSettings, specJson } from "./builders.ts";
import { slimDataFlow, specElided } from "./cached.ts";
import { DataFlowStatusMetric } from "./metrics.ts";
import {
  API_VERSION,
  configMapName,
  DataFlowType,
  deploymentName,
  FIELD_MANAGER,
  FINALIZER,
  isControlledBy,
  KIND,
} from "./names.ts";
import { ConfigMapKind, DeploymentKind, ensureOwned, type KubeWrites, NotOwnedError } from "./owned.ts";
import {
  checkPlacement,
  DEFAULT_PROCESSOR_POLICY,
  policyViolationMessage,
  type ProcessorPolicy,
} from "./policy.ts";
import type { DataFlow } from "./schema.ts";
import { collectSecretRefs, resolveSecretRefs, type SecretMeta } from "./secrets.ts";
import { phaseFromDeployment, type PhaseReport, statusPatch } from "./status.ts";

/** Cache reads of the reconciler (informers in production, maps in tests). */
export interface DataFlowCache {
  /** The DataFlow, or undefined when it is gone; may throw (reported as FailedGet). */
  dataflow(namespace: string, name: string): DataFlow | undefined;
  configMap(namespace: string, name: string): (ConfigMap & KubeObject) | undefined;
  deployment(namespace: string, name: string): (Deployment & KubeObject) | undefined;
  /** Metadata of a Secret; never its data. */
  secret(namespace: string, name: string): SecretMeta | undefined;
}

/** The spec checks: the zod schema's and the ConfigMap's size limit. */
interface SpecChecks {
  checkSpec: typeof import("./schema.ts").checkSpec;
  checkSpecSize: typeof import("./limits.ts").checkSpecSize;
}

let specChecks: Promise<SpecChecks> | undefined;

/**
 * Loads the spec checks on first use. Building the zod schema takes tens of milliseconds, so the
 * first reconcile that checks a spec loads them, after a new DataFlow's finalizer went out, and an
 * operator without DataFlows never does.
 */
function loadSpecChecks(): Promise<SpecChecks> {
  return specChecks ??= Promise.all([import("./schema.ts"), import("./limits.ts")]).then((
    [schema, limits],
  ) => ({ checkSpec: schema.checkSpec, checkSpecSize: limits.checkSpecSize }));
}

/** Everything the reconciler depends on. */
export interface ReconcilerDeps {
  cache: DataFlowCache;
  client: KubeWrites;
  events: EventSink;
  settings: ProcessorSettings;
  /** What a DataFlow may ask for in placement and resources (default: DEFAULT_PROCESSOR_POLICY). */
  policy?: ProcessorPolicy;
  metrics?: DataFlowStatusMetric;
  now?: () => Date;
  /** Delay before re-checking a name taken by an object we do not own (default 60 s). */
  notOwnedRetryMs?: number;
}

/** The part of a reconcile context the reconciler reads (the runtime's ReconcileContext fits). */
export interface DataFlowRequest {
  namespace?: string;
  name: string;
  signal?: AbortSignal;
  log?: Logger;
}

const baseLog = logger("operator", "reconciler");

/**
 * What failed, in words for a status message or an Event: the API's own message for an API error
 * (`Deployment.apps "x" is invalid: ...`, not `POST /apis/...: ...`), else the error's message.
 */
function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  return err instanceof Error ? err.message : String(err);
}

/** Creates the reconcile function. */
export function createReconciler(deps: ReconcilerDeps): (req: DataFlowRequest) => Promise<ReconcileResult> {
  const metrics = deps.metrics ?? new DataFlowStatusMetric();
  const now = deps.now ?? (() => new Date());
  const { cache, client, events } = deps;
  // The operator's own writes to each DataFlow until the cache has caught up with them: a reconcile
  // that runs before the watch delivered them would otherwise act on a version they replaced (and
  // send an extra status patch that fails with 409).
  const ownWrites = new Map<string, { replaced: Set<string>; latest: DataFlow }>();
  const remember = (key: string, before: DataFlow, after: DataFlow) => {
    const entry = ownWrites.get(key) ?? { replaced: new Set<string>(), latest: after };
    if (before.metadata.resourceVersion) entry.replaced.add(before.metadata.resourceVersion);
    entry.latest = slimDataFlow(after); // kept until the cache catches up: no large spec in it
    ownWrites.set(key, entry);
  };

  return async function reconcile(req: DataFlowRequest): Promise<ReconcileResult> {
    const namespace = req.namespace ?? "default";
    const { name, signal } = req;
    const log = (req.log ?? baseLog).with({ dataflow_name: name, dataflow_namespace: namespace });

    // The recorder logs each emission at debug (`Emitted Kubernetes event ...`); not repeated here.
    const emit = (obj: EventTarget, type: "Normal" | "Warning", reason: string, message: string) => {
      if (type === "Normal") events.info(obj, reason, message);
      else events.warn(obj, reason, message);
    };
    /** The info line of one write the operator made. */
    const wrote = (action: "created" | "updated" | "deleted", kind: string, objName: string) => {
      log.info("{action} {kind} {object} for DataFlow {dataflow_namespace}/{dataflow_name}", {
        action,
        kind,
        object: `${namespace}/${objName}`,
      });
    };
    /** {@link errorText}, with the failed HTTP request (verb, path, code) at debug. */
    const failureText = (err: unknown): string => {
      if (err instanceof ApiError && err.request) {
        log.debug("API request {request} failed: {outcome}", {
          request: err.request,
          outcome: err.code ? `HTTP ${err.code}${err.reason ? ` ${err.reason}` : ""}` : "no answer",
          error: err.detail,
        });
      }
      return errorText(err);
    };

    let df: DataFlow | undefined;
    try {
      df = cache.dataflow(namespace, name);
    } catch (err) {
      emit(
        { apiVersion: API_VERSION, kind: KIND, namespace, name },
        "Warning",
        "FailedGet",
        "Unable to fetch DataFlow",
      );
      throw err;
    }
    const key = `${namespace}/${name}`;
    const own = ownWrites.get(key);
    if (own && df && own.replaced.has(df.metadata.resourceVersion ?? "")) df = own.latest;
    else ownWrites.delete(key); // the cache caught up (or someone else wrote): it is the truth again
    if (!df) {
      metrics.forget(namespace, name);
      log.debug("DataFlow {dataflow_namespace}/{dataflow_name} is gone; nothing to do");
      return;
    }

    /** Writes the status when it differs; returns the updated object (or the input when unchanged). */
    const writeStatus = async (current: DataFlow, report: PhaseReport): Promise<DataFlow> => {
      metrics.set(namespace, name, report.phase);
      const patch = statusPatch(current.status, report, current.metadata.generation, now());
      if (!patch) return current;
      try {
        const updated = await client.patch<DataFlow>(
          DataFlowType,
          name,
          { metadata: { resourceVersion: current.metadata.resourceVersion }, status: patch },
          { namespace, subresource: "status", type: "merge", fieldManager: FIELD_MANAGER, signal },
        );
        remember(key, current, updated);
        log.info("updated status of DataFlow {dataflow_namespace}/{dataflow_name}: phase {phase}", {
          phase: report.phase,
          statusMessage: report.message,
        });
        return updated;
      } catch (err) {
        if (isNotFound(err)) return current;
        if (!isConflict(err)) {
          emit(
            current,
            "Warning",
            "StatusUpdateFailed",
            `Unable to update DataFlow status: ${failureText(err)}`,
          );
        }
        throw err;
      }
    };

    /** Records a failure: status Error, and a Warning event when the failure is new. */
    const fail = async (current: DataFlow, report: PhaseReport, reason: string, eventMessage: string) => {
      const isNew = current.status?.phase !== report.phase || current.status?.message !== report.message;
      // Loud once, when the failure appears or changes; a known failure only at debug.
      if (isNew) {
        log.warning("DataFlow {dataflow_namespace}/{dataflow_name}: {detail}", { detail: report.message });
        emit(current, "Warning", reason, eventMessage);
      } else {
        log.debug("DataFlow {dataflow_namespace}/{dataflow_name} still failing: {detail}", {
          detail: report.message,
        });
      }
      await writeStatus(current, report);
    };

    if (df.metadata.deletionTimestamp) return await finalize(df);

    /** The DataFlow from the API server (undefined when it is gone). */
    async function readWhole(cached: DataFlow): Promise<DataFlow | undefined> {
      try {
        const whole = await client.get<DataFlow>(DataFlowType, name, { namespace, signal });
        log.debug("read DataFlow {dataflow_namespace}/{dataflow_name} ({bytes} bytes of spec, not cached)", {
          bytes: JSON.stringify(whole.spec ?? {}).length,
        });
        return whole.metadata.uid === cached.metadata.uid ? whole : undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }

    if (!(df.metadata.finalizers ?? []).includes(FINALIZER)) {
      const before = df;
      df = await client.patch<DataFlow>(
        DataFlowType,
        name,
        {
          metadata: {
            resourceVersion: df.metadata.resourceVersion,
            finalizers: [...(df.metadata.finalizers ?? []), FINALIZER],
          },
        },
        { namespace, type: "merge", fieldManager: FIELD_MANAGER, signal },
      );
      remember(key, before, df);
      log.info("added finalizer {finalizer} to DataFlow {dataflow_namespace}/{dataflow_name}", {
        finalizer: FINALIZER,
      });
    }
    // A large spec is not cached (cached.ts): read the whole object, for this reconcile only.
    const current = specElided(df) ? await readWhole(df) : df;
    if (!current) return;

    const { checkSpec, checkSpecSize } = await loadSpecChecks();
    const check = checkSpec(current.spec);
    if (!check.ok) {
      const message = `Invalid DataFlow spec: ${check.problems.join("; ")}`;
      await fail(current, { phase: "Error", message, reason: "InvalidSpec" }, "InvalidSpec", message);
      return; // only a spec change can fix it, and that triggers a reconcile
    }
    const spec = check.spec;

    // The admin's processor policy, before anything is built: a violation writes nothing for the
    // processor (a running one keeps its last accepted Deployment) until the spec or the policy
    // changes (a policy change restarts the operator, which reconciles every DataFlow).
    const violations = checkPlacement(spec, deps.policy ?? DEFAULT_PROCESSOR_POLICY);
    if (violations.length) {
      const message = policyViolationMessage(violations);
      await fail(current, { phase: "Error", message, reason: "PolicyViolation" }, "PolicyViolation", message);
      return;
    }

    const resolution = resolveSecretRefs(
      collectSecretRefs(spec),
      namespace,
      (n) => cache.secret(namespace, n),
    );
    if (!resolution.ok) {
      const message = `Failed to resolve secrets: ${resolution.message}`;
      await fail(
        current,
        { phase: "Error", message, reason: "SecretResolutionFailed" },
        "SecretResolutionFailed",
        message,
      );
      return; // the Secret watch re-reconciles when a referenced Secret appears or changes
    }

    const json = specJson(spec);
    // A spec the CRD's limits let through but the ConfigMap cannot hold (multi-byte characters,
    // a large affinity): refused naming its largest fields, not by the ConfigMap write.
    const tooLarge = checkSpecSize(json, configMapName(name));
    if (tooLarge) {
      const message = `Invalid DataFlow spec: ${tooLarge}`;
      await fail(current, { phase: "Error", message, reason: "InvalidSpec" }, "InvalidSpec", message);
      return;
    }
    const hash = configHash(json, resolution.versions);
    const desiredCm = buildConfigMap(current, json) as ConfigMap & KubeObject;
    const desiredDep = buildDeployment(current, {
      spec,
      mounts: resolution.mounts,
      hash,
      settings: deps.settings,
    }) as Deployment & KubeObject;

    /**
     * Runs one owned-object step with the Go operator's failure wording, naming the object and
     * saying what the API answered (`Failed to create Deployment dataflow-x: Deployment.apps
     * "dataflow-x" is invalid: ...`).
     */
    const step = async <T extends KubeObject>(
      label: "ConfigMap" | "Deployment",
      objName: string,
      run: () => Promise<{ object: T; action: string }>,
    ): Promise<{ object: T } | { result: ReconcileResult }> => {
      try {
        const { object, action } = await run();
        if (action === "created") {
          wrote("created", label, objName);
          emit(current, "Normal", `${label}Created`, `Created ${label} ${objName}`);
        }
        if (action === "updated") {
          wrote("updated", label, objName);
          emit(current, "Normal", `${label}Updated`, `Updated ${label} ${objName}`);
        }
        return { object };
      } catch (err) {
        if (isConflict(err) || signal?.aborted) throw err; // stale cache or shutdown: retry quietly
        const text = failureText(err);
        await fail(
          current,
          {
            phase: "Error",
            message: `Failed to create ${label} ${objName}: ${text}`,
            reason: `${label}Failed`,
          },
          `${label}Failed`,
          // The Go operator's documented event text, exactly; its error part in the API's words.
          `Failed to create or update ${label}: ${text}`,
        );
        if (err instanceof NotOwnedError) {
          return { result: { requeueAfterMs: deps.notOwnedRetryMs ?? 60_000 } };
        }
        // The API server refused the object itself (a malformed affinity: 422; an unknown field under
        // strict field validation: 400): retrying cannot help, a spec change (which triggers a
        // reconcile) can.
        if (err instanceof InvalidError || err instanceof BadRequestError) return { result: undefined };
        throw err;
      }
    };

    const cm = await step(
      "ConfigMap",
      configMapName(name),
      () =>
        ensureOwned(
          ConfigMapKind,
          cache.configMap(namespace, configMapName(name)),
          desiredCm,
          current,
          client,
          signal,
        ),
    );
    if ("result" in cm) return cm.result;
    const dep = await step("Deployment", deploymentName(name), () =>
      ensureOwned(
        DeploymentKind,
        cache.deployment(namespace, deploymentName(name)),
        desiredDep,
        current,
        client,
        signal,
      ));
    if ("result" in dep) return dep.result;

    await writeStatus(current, phaseFromDeployment(dep.object as Deployment));
    return;

    /** The deletion branch: remove what we own, report, release the finalizer. */
    async function finalize(dying: DataFlow): Promise<ReconcileResult> {
      if (!(dying.metadata.finalizers ?? []).includes(FINALIZER)) return;
      const deleted: string[] = [];
      try {
        for (
          const [rt, objName] of [[builtin.Deployment, deploymentName(name)], [
            builtin.ConfigMap,
            configMapName(name),
          ]] as const
        ) {
          // A live read, not the cache: an object created moments ago must not leak.
          let live: KubeObject;
          try {
            live = await client.get(rt, objName, { namespace, signal });
          } catch (err) {
            if (isNotFound(err)) continue;
            throw err;
          }
          if (!isControlledBy(live, dying.metadata.uid)) continue;
          try {
            await client.delete(rt, objName, {
              namespace,
              preconditions: { uid: live.metadata?.uid },
              signal,
            });
            deleted.push(rt.kind);
            wrote("deleted", rt.kind, objName);
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
      } catch (err) {
        emit(dying, "Warning", "CleanupFailed", `Failed to cleanup resources: ${failureText(err)}`);
        throw err;
      }
      // Only what was really deleted: the Go operator's text when both objects were the operator's
      // ("Deleted Deployment and ConfigMap"), the one kind when only one was, no event when neither
      // was (foreign objects, or a retry after the deletes already happened).
      if (deleted.length) emit(dying, "Normal", "ResourcesDeleted", `Deleted ${deleted.join(" and ")}`);
      let latest = dying;
      try {
        latest = await writeStatus(dying, {
          phase: "Stopped",
          message: "DataFlow is being deleted",
          reason: "Deleting",
        });
      } catch (err) {
        // The object is going away; a failed Stopped status must not keep the finalizer.
        log.warning("could not set phase Stopped on {dataflow_namespace}/{dataflow_name}: {error}", {
          error: errorText(err),
        });
      }
      try {
        await client.patch(
          DataFlowType,
          name,
          {
            metadata: {
              resourceVersion: latest.metadata.resourceVersion,
              finalizers: (latest.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
            },
          },
          { namespace, type: "merge", fieldManager: FIELD_MANAGER, signal },
        );
        log.info("removed finalizer {finalizer} from DataFlow {dataflow_namespace}/{dataflow_name}", {
          finalizer: FINALIZER,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      metrics.forget(namespace, name);
      return;
    }
  };
}
