/**
 * The owned objects of a DataFlow, built as pure functions of the validated spec, the secret
 * resolution and the operator's processor settings: ConfigMap `dataflow-<name>-spec` (key
 * `spec.json`, which points at mounted secret files and never holds a value) and Deployment
 * `dataflow-<name>` in the Go operator's shape, hardened (pod security, no service account token,
 * Recreate so two processors never run at once) and with a pod-template hash of spec.json and the
 * Secrets' versions, so any change of either restarts the processor.
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
import { processorSpec, type SecretMount, SECRETS_DIR } from "./secrets.ts";

/** Where spec.json is mounted. */
export const SPEC_DIR = "/etc/dataflow";
/** The spec file the processor reads. */
export const SPEC_PATH = `${SPEC_DIR}/spec.json`;
/** The ConfigMap key. */
export const SPEC_KEY = "spec.json";
/** The Go operator's default image repository (tag = operator version). */
export const DEFAULT_PROCESSOR_IMAGE_REPO = "ghcr.io/dataflow-operator/dataflow";

/** The Go operator's default processor resources. */
export const DEFAULT_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "512Mi" },
} as const;

/** Default pod security: non-root with the runtime's seccomp profile. */
export const DEFAULT_POD_SECURITY_CONTEXT: PodSecurityContext = {
  runAsNonRoot: true,
  seccompProfile: { type: "RuntimeDefault" },
};

/** Default container security: no privilege escalation, every capability dropped, read-only root. */
export const DEFAULT_CONTAINER_SECURITY_CONTEXT: SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  readOnlyRootFilesystem: true,
};

/** How processors are run; from the operator's environment (PROCESSOR_IMAGE, PROCESSOR_LOG_LEVEL, ...). */
export interface ProcessorSettings {
  image: string;
  /** LOG_LEVEL of the processor (default "info"). */
  logLevel?: string;
  podSecurityContext?: PodSecurityContext;
  containerSecurityContext?: SecurityContext;
}

/** The spec.json text: compact JSON of the spec with SecretRefs pointing at files. */
export function specJson(spec: DataFlowSpec): string {
  return JSON.stringify(processorSpec(spec));
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

/** Inputs of {@link buildDeployment}. */
export interface DeploymentInputs {
  spec: DataFlowSpec;
  mounts: SecretMount[];
  hash: string;
  settings: ProcessorSettings;
}

/** The desired Deployment. */
export function buildDeployment(df: DataFlowIdentity, inputs: DeploymentInputs): Deployment {
  const { name, namespace } = df.metadata;
  const { spec, mounts, hash, settings } = inputs;
  const labels = processorLabels(name);
  const volumes: Volume[] = [{ name: "spec", configMap: { name: configMapName(name) } }];
  const volumeMounts: VolumeMount[] = [{ name: "spec", mountPath: SPEC_DIR, readOnly: true }];
  for (const m of mounts) {
    volumes.push({
      name: m.volumeName,
      secret: { secretName: m.secretName, items: m.keys.map((k) => ({ key: k, path: k })) },
    });
    volumeMounts.push({ name: m.volumeName, mountPath: `${SECRETS_DIR}/${m.secretName}`, readOnly: true });
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
          containers: [{
            name: "processor",
            image: settings.image,
            command: ["/processor", `--spec-path=${SPEC_PATH}`, `--namespace=${namespace}`, `--name=${name}`],
            env: [{ name: "LOG_LEVEL", value: settings.logLevel || "info" }],
            volumeMounts,
            resources: structuredClone(spec.resources ?? DEFAULT_RESOURCES) as ResourceRequirements,
            securityContext: settings.containerSecurityContext ?? DEFAULT_CONTAINER_SECURITY_CONTEXT,
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
