/**
 * The owned objects of a DataFlow, built as pure functions of the validated spec, the secret
 * resolution and the operator's processor settings: ConfigMap `dataflow-<name>-spec` (key
 * `spec.json`: SecretRefs only, never a value) and Deployment `dataflow-<name>` in the Go
 * operator's shape, hardened (pod security, no service account token, Recreate so two processors
 * never run at once) and with a pod-template hash of spec.json and the Secrets' versions, so any
 * change of either restarts the processor.
 *
 * The processor reads the Go operator's contract, a spec.json with every SecretRef resolved, from
 * an in-memory emptyDir: the init container `render-spec` (the operator's own image) writes it
 * there from the ConfigMap and the Secret files mounted into it alone (see render-spec.ts).
 */
import { createHash } from "node:crypto";
import type {
  Affinity,
  ConfigMap,
  PodSecurityContext,
  ResourceRequirements,
  SecurityContext,
  Volume,
  VolumeMount,
} from "kubernetes-types/core/v1";
import type { Deployment } from "kubernetes-types/apps/v1";
import {
  CONFIG_HASH_ANNOTATION,
  configMapName,
  controllerRef,
  type DataFlowIdentity,
  deploymentName,
  processorLabels,
} from "./names.ts";
import type { DataFlowSpec } from "./schema.ts";
import { configMapSpec, type SecretMount, SECRETS_DIR } from "./secrets.ts";
import pkg from "../../package.json" with { type: "json" };

/**
 * The rendered spec's directory: an in-memory emptyDir, written by the init container and mounted
 * read-only into the processor at the same path (so TLS file paths in spec.json hold in both).
 */
export const SPEC_DIR = "/etc/dataflow";
/** The spec file the processor reads (`--spec-path`). */
export const SPEC_PATH = `${SPEC_DIR}/spec.json`;
/** The ConfigMap key. */
export const SPEC_KEY = "spec.json";
/** Where the ConfigMap (references only) is mounted in the init container. */
export const CONFIG_DIR = "/var/run/dataflow/config";
/** The init container's name (`kubectl logs <pod> -c render-spec`). */
export const RENDER_CONTAINER = "render-spec";
/** The size limit of the in-memory emptyDir holding the rendered spec and TLS files. */
export const RENDERED_SIZE_LIMIT = "16Mi";
/** The Go operator's default image repository (tag = operator version). */
export const DEFAULT_PROCESSOR_IMAGE_REPO = "ghcr.io/dataflow-operator/dataflow";
/**
 * The operator's own image repository when OPERATOR_IMAGE is unset (tag = operator version): the
 * image deploy/operator.yaml and the Helm chart run by default.
 */
export const DEFAULT_OPERATOR_IMAGE_REPO = "dataflow-operator";
/** `dataflow-operator:<version>`: the init container's image when OPERATOR_IMAGE is unset. */
export const DEFAULT_OPERATOR_IMAGE = `${DEFAULT_OPERATOR_IMAGE_REPO}:${pkg.version}`;

/** The Go operator's default processor resources. */
export const DEFAULT_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "512Mi" },
} as const;

/**
 * The uid, gid and fsGroup of processor pods: the distroless `nonroot` user. Explicit, because the
 * Go operator's processor image declares no USER (it would run as root, which runAsNonRoot refuses).
 */
export const PROCESSOR_UID = 65532;

/** Default pod security: non-root (65532) with the runtime's seccomp profile. */
export const DEFAULT_POD_SECURITY_CONTEXT: PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: PROCESSOR_UID,
  runAsGroup: PROCESSOR_UID,
  fsGroup: PROCESSOR_UID,
  seccompProfile: { type: "RuntimeDefault" },
};

/** Default container security: no privilege escalation, every capability dropped, read-only root. */
export const DEFAULT_CONTAINER_SECURITY_CONTEXT: SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  readOnlyRootFilesystem: true,
};

/**
 * The init container's resources: it reads and writes a few small files, then exits (its peak
 * resident memory measured 55 MB as the Bun binary, 90 MB under `deno run`).
 */
export const RENDER_RESOURCES = {
  requests: { cpu: "10m", memory: "64Mi" },
  limits: { cpu: "500m", memory: "128Mi" },
} as const;

/** How processors are run; from the operator's environment (PROCESSOR_IMAGE, PROCESSOR_LOG_LEVEL, ...). */
export interface ProcessorSettings {
  image: string;
  /** The operator's own image, run as the init container `render-spec` (default {@link DEFAULT_OPERATOR_IMAGE}). */
  operatorImage?: string;
  /** LOG_LEVEL of the processor (default "info"). */
  logLevel?: string;
  podSecurityContext?: PodSecurityContext;
  containerSecurityContext?: SecurityContext;
}

/** The ConfigMap's spec.json text: compact JSON of the spec, SecretRefs as `{name, key}`. */
export function specJson(spec: DataFlowSpec): string {
  return JSON.stringify(configMapSpec(spec));
}

/**
 * The pod-template hash: sha256 over spec.json and each referenced Secret's resourceVersion
 * (sorted by name), so rotating a Secret rolls the processor without any spec change.
 */
export function configHash(json: string, secretVersions: Record<string, string>): string {
  const h = createHash("sha256").update(json);
  for (const name of Object.keys(secretVersions).sort()) h.update(`\n${name}=${secretVersions[name]}`);
  return h.digest("hex").slice(0, 32);
}

/** The desired ConfigMap. */
export function buildConfigMap(df: DataFlowIdentity, json: string): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: configMapName(df.metadata.name),
      namespace: df.metadata.namespace,
      labels: processorLabels(df.metadata.name),
      ownerReferences: [controllerRef(df)],
    },
    data: { [SPEC_KEY]: json },
  };
}

/** A copy of a JSON value, so desired objects share nothing (faster than structuredClone on Bun). */
function copyJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** Inputs of {@link buildDeployment}. */
export interface DeploymentInputs {
  spec: DataFlowSpec;
  mounts: SecretMount[];
  hash: string;
  settings: ProcessorSettings;
}

/** The init container's arguments (after the image's entrypoint, the operator binary). */
export function renderSpecArgs(): string[] {
  return [
    "render-spec",
    `--spec=${CONFIG_DIR}/${SPEC_KEY}`,
    `--secrets-dir=${SECRETS_DIR}`,
    `--out=${SPEC_DIR}`,
  ];
}

/**
 * The desired Deployment. Only the init container mounts the ConfigMap and the Secrets; the
 * processor mounts just the rendered spec (read-only).
 */
export function buildDeployment(df: DataFlowIdentity, inputs: DeploymentInputs): Deployment {
  const { name, namespace } = df.metadata;
  const { spec, mounts, hash, settings } = inputs;
  const labels = processorLabels(name);
  const containerSecurityContext = settings.containerSecurityContext ?? DEFAULT_CONTAINER_SECURITY_CONTEXT;
  const volumes: Volume[] = [
    { name: "config", configMap: { name: configMapName(name) } },
    { name: "spec", emptyDir: { medium: "Memory", sizeLimit: RENDERED_SIZE_LIMIT } },
  ];
  const renderMounts: VolumeMount[] = [
    { name: "config", mountPath: CONFIG_DIR, readOnly: true },
    { name: "spec", mountPath: SPEC_DIR },
  ];
  for (const m of mounts) {
    volumes.push({
      name: m.volumeName,
      secret: { secretName: m.secretName, items: m.keys.map((k) => ({ key: k, path: k })) },
    });
    renderMounts.push({ name: m.volumeName, mountPath: `${SECRETS_DIR}/${m.secretName}`, readOnly: true });
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: deploymentName(name), namespace, labels, ownerReferences: [controllerRef(df)] },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      // Recreate: a rolling update would run two processors at once, duplicating polled reads.
      strategy: { type: "Recreate" },
      template: {
        metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: hash } },
        spec: {
          // The processor needs no API access: no token in its pod.
          automountServiceAccountToken: false,
          securityContext: settings.podSecurityContext ?? DEFAULT_POD_SECURITY_CONTEXT,
          initContainers: [{
            name: RENDER_CONTAINER,
            image: settings.operatorImage || DEFAULT_OPERATOR_IMAGE,
            args: renderSpecArgs(),
            volumeMounts: renderMounts,
            resources: copyJson(RENDER_RESOURCES) as ResourceRequirements,
            securityContext: containerSecurityContext,
          }],
          containers: [{
            name: "processor",
            image: settings.image,
            command: ["/processor", `--spec-path=${SPEC_PATH}`, `--namespace=${namespace}`, `--name=${name}`],
            env: [{ name: "LOG_LEVEL", value: settings.logLevel || "info" }],
            volumeMounts: [{ name: "spec", mountPath: SPEC_DIR, readOnly: true }],
            resources: copyJson(spec.resources ?? DEFAULT_RESOURCES) as ResourceRequirements,
            securityContext: containerSecurityContext,
          }],
          volumes,
          ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
          ...(spec.affinity ? { affinity: spec.affinity as Affinity } : {}),
          ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
        },
      },
    },
  };
}
