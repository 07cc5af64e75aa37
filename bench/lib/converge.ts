/**
 * Observes, through watches (never by polling lists), when each DataFlow of a namespace has its
 * ConfigMap, its Deployment and status.observedGeneration == metadata.generation; the same
 * observer times the operator and the floor.
 */
import type { KubeClient, KubeObject } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { DataFlowType, NAME_LABEL, OWNED_SELECTOR } from "../../lib/dataflow/names.ts";
import type { DataFlow } from "../../lib/dataflow/schema.ts";
import { Registry } from "../../lib/observe/metrics.ts";
import { Informer } from "../../lib/runtime/mod.ts";

/** Watches one namespace until every expected DataFlow has converged. */
export class ConvergenceWatch {
  readonly namespace: string;
  #dataflows: Informer<DataFlow>;
  #configMaps: Informer<KubeObject>;
  #deployments: Informer<KubeObject>;
  #stop = new AbortController();
  #done = new Set<string>();
  #expected = new Set<string>();
  #lastAt = 0;
  #wake?: () => void;

  constructor(client: KubeClient, namespace: string) {
    this.namespace = namespace;
    const registry = new Registry();
    this.#dataflows = new Informer<DataFlow>(client, DataFlowType, { namespace, name: "bench-df", registry });
    const owned = { namespace, labelSelector: OWNED_SELECTOR, registry };
    this.#configMaps = new Informer(client, builtin.ConfigMap, { ...owned, name: "bench-cm" });
    this.#deployments = new Informer(client, builtin.Deployment, { ...owned, name: "bench-dep" });
    const check = (name: string | undefined) => name && this.#check(name);
    const byName = (o: KubeObject) => check(o.metadata?.name);
    const byLabel = (o: KubeObject) => check(o.metadata?.labels?.[NAME_LABEL]);
    this.#dataflows.on({ add: byName, update: (_, o) => byName(o) });
    this.#configMaps.on({ add: byLabel, update: (_, o) => byLabel(o) });
    this.#deployments.on({ add: byLabel, update: (_, o) => byLabel(o) });
  }

  #check(name: string): void {
    if (this.#done.has(name)) return;
    const key = `${this.namespace}/${name}`;
    const df = this.#dataflows.get(key);
    if (!df || df.status?.observedGeneration !== df.metadata.generation) return;
    if (!this.#configMaps.get(`${this.namespace}/dataflow-${name}-spec`)) return;
    if (!this.#deployments.get(`${this.namespace}/dataflow-${name}`)) return;
    this.#done.add(name);
    this.#lastAt = performance.now();
    if (this.#expected.has(name)) this.#wake?.();
  }

  /** Starts the watches and waits until they are synced. */
  async start(): Promise<void> {
    for (const i of [this.#dataflows, this.#configMaps, this.#deployments]) {
      void i.start(this.#stop.signal).catch(() => {});
    }
    await Promise.all([this.#dataflows, this.#configMaps, this.#deployments].map((i) => i.waitForSync()));
  }

  /** How many have converged. */
  get converged(): number {
    return this.#done.size;
  }

  /**
   * Resolves with performance.now() of the moment the last of `names` converged; rejects after
   * `timeoutMs` naming how many are missing.
   */
  async waitAll(dataflowNames: string[], timeoutMs: number): Promise<number> {
    for (const n of dataflowNames) this.#expected.add(n);
    const deadline = Date.now() + timeoutMs;
    const missing = () => dataflowNames.filter((n) => !this.#done.has(n)).length;
    while (missing() > 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${missing()} of ${dataflowNames.length} DataFlows did not converge in ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.#wake = () => (clearTimeout(t), r());
      });
    }
    return this.#lastAt;
  }

  /** Stops the watches. */
  stop(): void {
    this.#stop.abort();
    for (const i of [this.#dataflows, this.#configMaps, this.#deployments]) i.stop();
  }
}
