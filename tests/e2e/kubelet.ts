/**
 * A stand-in for the kubelet and the deployment controller, which the test control plane does
 * not run: it marks processor Deployments as rolled out and ready by writing their /status the
 * way the deployment controller would once the pods are up, and it can run a pod template's init
 * container as a process, with its volumes laid out as the kubelet projects them.
 */
import { Buffer } from "node:buffer";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Deployment } from "kubernetes-types/apps/v1";
import type { ConfigMap, Container, Secret } from "kubernetes-types/core/v1";
import type { KubeClient } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { repoRoot, runCommand } from "./manifests.ts";
import { operatorCommand } from "./operator-process.ts";

/** The processor Deployments' label (the Go operator's, part of the compatibility contract). */
export const PROCESSOR_SELECTOR = "app=dataflow-processor,dataflow.dataflow.io/owned=true";

/** True when the Deployment's status already says "every replica of this generation is ready". */
export function isMarkedReady(d: Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return s.observedGeneration === d.metadata?.generation && s.readyReplicas === want &&
    s.updatedReplicas === want && s.availableReplicas === want && s.replicas === want;
}

/** Writes a ready status for all replicas of the Deployment's current generation. */
export async function markReady(client: KubeClient, namespace: string, name: string): Promise<Deployment> {
  const d = await client.get<Deployment>(builtin.Deployment, name, { namespace });
  const want = d.spec?.replicas ?? 1;
  const now = new Date().toISOString();
  return await client.patch<Deployment>(builtin.Deployment, name, {
    status: {
      observedGeneration: d.metadata?.generation,
      replicas: want,
      updatedReplicas: want,
      readyReplicas: want,
      availableReplicas: want,
      conditions: [
        {
          type: "Available",
          status: "True",
          reason: "MinimumReplicasAvailable",
          message: "Deployment has minimum availability.",
          lastUpdateTime: now,
          lastTransitionTime: now,
        },
      ],
    },
  }, { namespace, type: "merge", subresource: "status" });
}

/** Periodically marks every processor Deployment (of one namespace, or all) ready. */
export class KubeletStandIn {
  #client: KubeClient;
  #namespace?: string;
  #intervalMs: number;
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  /** How many status writes it made. */
  patched = 0;
  /** The last error of a pass (kept, not thrown, so the loop goes on; callers may show it). */
  lastError?: Error;

  /** Watches one namespace (or all), passing every `intervalMs` (default 1 s). */
  constructor(client: KubeClient, options: { namespace?: string; intervalMs?: number } = {}) {
    this.#client = client;
    this.#namespace = options.namespace;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** One pass: marks each not-yet-ready processor Deployment ready; returns how many it patched. */
  async pass(): Promise<number> {
    const list = await this.#client.list<Deployment>(builtin.Deployment, {
      namespace: this.#namespace,
      labelSelector: PROCESSOR_SELECTOR,
    });
    let n = 0;
    for (const d of list.items) {
      if (isMarkedReady(d) || d.metadata?.deletionTimestamp) continue;
      await markReady(this.#client, d.metadata!.namespace!, d.metadata!.name!);
      n++;
    }
    this.patched += n;
    return n;
  }

  /** Starts the loop (errors of a pass are recorded in lastError and retried next pass). */
  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      try {
        await this.pass();
        this.lastError = undefined;
      } catch (err) {
        this.lastError = err as Error;
      }
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#intervalMs);
    };
    void tick();
  }

  /** Stops the loop. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** A path of the pod's file system, under the temporary root that stands in for it. */
export function inPod(root: string, path: string): string {
  return join(root, path);
}

/**
 * Lays out the volumes one container of a pod template mounts, under `root` (the pod's `/`), as
 * the kubelet projects them: a ConfigMap's keys and a Secret's items as files named by key (or
 * item path) under the mount path, with the volume's defaultMode (0644 when unset); an emptyDir
 * as an empty directory. Secret values are read as admin, as the kubelet reads them.
 */
export async function projectVolumes(
  client: KubeClient,
  namespace: string,
  dep: Deployment,
  container: Container,
  root: string,
): Promise<void> {
  const volumes = dep.spec!.template.spec!.volumes ?? [];
  for (const mount of container.volumeMounts ?? []) {
    const vol = volumes.find((v) => v.name === mount.name);
    if (!vol) throw new Error(`volume ${mount.name} of ${container.name} is not in the pod`);
    const dir = inPod(root, mount.mountPath);
    mkdirSync(dir, { recursive: true });
    const files: [string, Buffer][] = [];
    let mode = 0o644;
    if (vol.configMap) {
      const cm = await client.get<ConfigMap>(builtin.ConfigMap, vol.configMap.name!, { namespace });
      mode = vol.configMap.defaultMode ?? mode;
      const items = vol.configMap.items ?? Object.keys(cm.data ?? {}).map((k) => ({ key: k, path: k }));
      for (const i of items) files.push([i.path, Buffer.from(cm.data![i.key], "utf8")]);
    } else if (vol.secret) {
      const secret = await client.get<Secret>(builtin.Secret, vol.secret.secretName!, { namespace });
      mode = vol.secret.defaultMode ?? mode;
      const items = vol.secret.items ?? Object.keys(secret.data ?? {}).map((k) => ({ key: k, path: k }));
      for (const i of items) files.push([i.path, Buffer.from(secret.data![i.key], "base64")]);
    } else if (!vol.emptyDir) {
      throw new Error(`volume ${vol.name}: only configMap, secret and emptyDir volumes are projected here`);
    }
    for (const [path, data] of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), data, { mode });
    }
  }
}

/**
 * Runs the pod template's init container `name` as a process: its volumes projected under `root`
 * (see {@link projectVolumes}), its command the operator's (`operatorCommand()`: the image's
 * entrypoint is the operator binary) followed by its args, every absolute path in an argument
 * (`--out=/etc/dataflow`) moved under `root`. Resolves with the exit code and output.
 */
export async function runInitContainer(
  client: KubeClient,
  namespace: string,
  dep: Deployment,
  name: string,
  root: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const init = dep.spec!.template.spec!.initContainers?.find((c) => c.name === name);
  if (!init) throw new Error(`no init container ${name} in Deployment ${dep.metadata?.name}`);
  if (init.command?.length) throw new Error(`init container ${name} overrides the image's entrypoint`);
  await projectVolumes(client, namespace, dep, init, root);
  const args = (init.args ?? []).map((a) =>
    a.replace(/^(--[^=]+=)(\/.*)$/, (_, flag, path) => flag + inPod(root, path))
  );
  const [cmd, ...prefix] = operatorCommand();
  return await runCommand(cmd, [...prefix, ...args], { cwd: repoRoot, env: { KUBECONFIG: undefined } });
}
