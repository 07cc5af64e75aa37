/**
 * What the benchmarks of one `bench/run.ts` process share: control planes (started on first
 * use, each with the CRD and the operator's ServiceAccount + deploy/rbac.yaml installed), the
 * 10,000-DataFlow cluster that the memory and start-up benchmarks reuse, the namespace of
 * operator-reconciled DataFlows the throughput benchmark leaves for the idle benchmark, and the
 * run's size settings.
 */
import type { KubeClient } from "../../lib/kube/client.ts";
import { clientFor, freshNamespace } from "../../tests/controlplane/env.ts";
import { ControlPlane, type Identity } from "../../tests/controlplane/harness.ts";
import { installOperatorIdentity } from "../../tests/e2e/install.ts";
import { floorWrites, names } from "./writer.ts";

/** A started control plane with the operator's identity installed. */
export interface Cluster {
  cp: ControlPlane;
  admin: KubeClient;
  /** The operator's ServiceAccount (deploy/rbac.yaml permissions only). */
  identity: Identity;
}

/** The sizes of a run: full (the issue's) or small (`--small`, for building and debugging). */
export interface BenchSizes {
  small: boolean;
  /** DataFlows of the throughput and idle benchmarks (1,000). */
  throughput: number;
  /** DataFlows of the memory and start-up benchmarks (10,000). */
  scale: number;
  /** Repetitions of short measurements. */
  runs: number;
}

/** The sizes for `small` or full runs. */
export function sizes(small: boolean): BenchSizes {
  return small
    ? { small, throughput: 100, scale: 1000, runs: 3 }
    : { small, throughput: 1000, scale: 10_000, runs: 3 };
}

/** DataFlows per namespace of the scale cluster. */
const PER_NAMESPACE = 1000;

/** The shared state of one benchmark process. */
export class BenchContext {
  readonly sizes: BenchSizes;
  /** The exact command line of this run, for the results files. */
  readonly command: string;
  /** A namespace of `count` DataFlows the operator reconciled (left by the throughput benchmark). */
  reconciled?: { namespace: string; count: number };
  #clusters = new Map<string, Promise<Cluster>>();
  #scale?: Promise<{ cluster: Cluster; namespaces: string[]; seconds: number }>;

  /** `--name=value` options of the command line. */
  readonly options: Record<string, string>;

  constructor(sizes: BenchSizes, command: string, options: Record<string, string> = {}) {
    this.sizes = sizes;
    this.command = command;
    this.options = options;
  }

  /**
   * A control plane by role: "main" (throughput, idle), "empty" (never gets DataFlows), "failover", ...
   * `flags` (extra etcd and kube-apiserver flags) apply when the role's control plane is first started.
   */
  cluster(role: string, flags: { etcdArgs?: string[]; apiserverArgs?: string[] } = {}): Promise<Cluster> {
    let c = this.#clusters.get(role);
    if (!c) {
      c = (async () => {
        const cp = await ControlPlane.start(flags);
        try {
          const identity = await installOperatorIdentity(cp);
          return { cp, admin: clientFor(cp), identity };
        } catch (err) {
          await cp.stop();
          throw err;
        }
      })();
      this.#clusters.set(role, c);
    }
    return c;
  }

  /**
   * The "scale" control plane with `sizes.scale` DataFlows and their ConfigMaps and Deployments
   * (1,000 per namespace), written once with the operator's builders (see writer.ts; no events).
   */
  scaleCluster(): Promise<{ cluster: Cluster; namespaces: string[]; seconds: number }> {
    this.#scale ??= (async () => {
      const cluster = await this.cluster("scale");
      const t0 = performance.now();
      const namespaces: string[] = [];
      for (let done = 0; done < this.sizes.scale; done += PER_NAMESPACE) {
        const ns = await freshNamespace(cluster.cp, "scale");
        namespaces.push(ns);
        const count = Math.min(PER_NAMESPACE, this.sizes.scale - done);
        await floorWrites(cluster.admin, ns, names("df", count), 16, { events: false });
        console.log(`  scale fixture: ${done + count}/${this.sizes.scale} DataFlows written`);
      }
      return { cluster, namespaces, seconds: (performance.now() - t0) / 1000 };
    })();
    return this.#scale;
  }

  /** Stops every control plane. */
  async close(): Promise<void> {
    for (const c of this.#clusters.values()) {
      const cluster = await c.catch(() => undefined);
      if (!cluster) continue;
      cluster.admin.transport.close();
      await cluster.cp.stop();
    }
  }
}
