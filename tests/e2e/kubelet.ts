/**
 * A stand-in for the kubelet and the deployment controller, which the test control plane does
 * not run: it marks processor Deployments as rolled out and ready by writing their /status the
 * way the deployment controller would once the pods are up.
 */
import type { Deployment } from "kubernetes-types/apps/v1";
import type { KubeClient } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";

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
