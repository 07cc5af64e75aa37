/**
 * The churn a fault run puts on the operator: a seeded stream of DataFlow creates, spec updates
 * (topic, table, placement, resources, which Secret the sink reads), deletes, re-creates of
 * deleted names (a new uid under an old name) and Secret rotations, issued as admin straight to
 * the API server (never through the operator's fault proxies). It records the outcome of every
 * operation, so the convergence check knows which names must have left nothing behind.
 */
import type { KubeClient } from "../../lib/kube/client.ts";
import { isNotFound } from "../../lib/kube/errors.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { dataflow, type DataFlowBody, secret, type SecretValues } from "../e2e/fixtures.ts";
import { DATAFLOW } from "./converge.ts";
import type { Prng } from "./prng.ts";

/** Options of {@link Churn}. */
export interface ChurnOptions {
  client: KubeClient;
  namespace: string;
  prng: Prng;
  /** Names of the Secrets (key `url`) DataFlows may reference; rotated now and then. */
  secretNames: string[];
  secretValues: SecretValues;
  /** How many distinct DataFlows to create (the first phase creates mostly, then it churns). */
  total: number;
  /** Operations per second until every DataFlow was created. */
  rate: number;
  /** Operations per second after that (updates, deletes, re-creates, rotations). */
  churnRate: number;
}

/** Counts of what the churn did. */
export interface ChurnStats {
  create: number;
  update: number;
  delete: number;
  recreate: number;
  rotate: number;
  errors: string[];
}

const CPUS = ["200m", "300m", "750m", "1"];
const ZONES = ["zone-a", "zone-b", "zone-c"];

/** A seeded churn driver; {@link Churn.start} runs it in the background until {@link Churn.stop}. */
export class Churn {
  /** Names that exist (or are being created) and were not deleted since. */
  readonly live = new Set<string>();
  /** Names whose last operation was a successful delete. */
  readonly deleted = new Set<string>();
  readonly stats: ChurnStats = { create: 0, update: 0, delete: 0, recreate: 0, rotate: 0, errors: [] };
  #o: ChurnOptions;
  #created = 0;
  #running = false;
  #paused = false;
  #loop?: Promise<void>;
  #inFlight = new Set<Promise<void>>();
  /** Names with an operation in flight: no second operation picks them until it settles. */
  #busy = new Set<string>();

  constructor(options: ChurnOptions) {
    this.#o = options;
  }

  /** The body of a new DataFlow: half read their PostgreSQL connection from a Secret. */
  body(name: string): DataFlowBody {
    const p = this.#o.prng;
    const body = p.chance(0.5)
      ? dataflow(name, { connectionStringSecretRef: { name: p.pick(this.#o.secretNames), key: "url" } })
      : dataflow(name, { connectionString: `postgres://app@db-${p.int(0, 9)}/app` });
    body.spec.source.kafka.topic = `topic-${p.int(0, 1e6)}`;
    return body;
  }

  /** Starts issuing operations at the configured rate. */
  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        if (!this.#paused) {
          const op = this.#step().catch((err) => {
            this.stats.errors.push((err as Error).message);
          });
          this.#inFlight.add(op);
          void op.finally(() => this.#inFlight.delete(op));
        }
        await new Promise((r) => setTimeout(r, 1000 / (this.createdAll ? this.#o.churnRate : this.#o.rate)));
      }
    })();
  }

  /** Stops issuing and waits for operations in flight (e.g. around an API server restart). */
  async pause(): Promise<void> {
    this.#paused = true;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Issues again after {@link pause}. */
  resume(): void {
    this.#paused = false;
  }

  /** Stops for good and waits for the operations in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Whether all {@link ChurnOptions.total} DataFlows were created. */
  get createdAll(): boolean {
    return this.#created >= this.#o.total;
  }

  async #step(): Promise<void> {
    const p = this.#o.prng;
    // While creating, 70 % of the operations are creates; the rest (and all later) are the mix.
    if (!this.createdAll && (p.chance(0.7) || this.live.size < 5)) return await this.#create();
    const roll = p.next();
    if (roll < 0.04) return await this.#rotate();
    if (roll < 0.14 && this.deleted.size > 0) return await this.#recreate();
    if (roll < 0.34 && this.live.size > 20) return await this.#delete();
    return await this.#update();
  }

  /** A random idle name of `from`, marked busy while `op` runs; undefined when all are busy. */
  async #with(from: Set<string>, op: (name: string) => Promise<void>, name?: string): Promise<void> {
    name ??= this.#pickIdle(from);
    if (name === undefined) return;
    this.#busy.add(name);
    try {
      await op(name);
    } finally {
      this.#busy.delete(name);
    }
  }

  #pickIdle(from: Set<string>): string | undefined {
    const idle = [...from].filter((n) => !this.#busy.has(n));
    return idle.length ? this.#o.prng.pick(idle) : undefined;
  }

  async #create(): Promise<void> {
    const name = `df-${String(this.#created++).padStart(3, "0")}`;
    this.live.add(name);
    await this.#with(this.live, async () => {
      await this.#o.client.create(DATAFLOW, this.body(name), { namespace: this.#o.namespace });
      this.stats.create++;
    }, name);
  }

  async #recreate(): Promise<void> {
    await this.#with(this.deleted, (name) => this.#recreateName(name));
  }

  async #recreateName(name: string): Promise<void> {
    // Only once the old one is gone (its finalizer done): until then the name is taken.
    try {
      await this.#o.client.get(DATAFLOW, name, { namespace: this.#o.namespace });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.deleted.delete(name);
    this.live.add(name);
    await this.#o.client.create(DATAFLOW, this.body(name), { namespace: this.#o.namespace });
    this.stats.recreate++;
  }

  async #delete(): Promise<void> {
    await this.#with(this.live, async (name) => {
      this.live.delete(name);
      await this.#o.client.delete(DATAFLOW, name, { namespace: this.#o.namespace });
      this.deleted.add(name);
      this.stats.delete++;
    });
  }

  async #update(): Promise<void> {
    await this.#with(this.live, (name) => this.#updateName(name));
  }

  async #updateName(name: string): Promise<void> {
    const p = this.#o.prng;
    const spec: Record<string, unknown> = {};
    switch (p.int(0, 4)) {
      case 0:
        spec.source = { kafka: { topic: `topic-${p.int(0, 1e6)}` } };
        break;
      case 1:
        spec.sink = { postgresql: { table: `t_${p.int(0, 1e6)}` } };
        break;
      case 2:
        spec.nodeSelector = p.chance(0.3) ? null : { "topology.kubernetes.io/zone": p.pick(ZONES) };
        break;
      case 3:
        spec.resources = {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: p.pick(CPUS), memory: "256Mi" },
        };
        break;
      default:
        // Switch the sink to a Secret (or another one): a new mount and a new hash.
        spec.sink = {
          postgresql: {
            connectionString: null,
            connectionStringSecretRef: { name: p.pick(this.#o.secretNames), key: "url" },
          },
        };
    }
    await this.#o.client.patch(DATAFLOW, name, { spec }, { namespace: this.#o.namespace, type: "merge" });
    this.stats.update++;
  }

  async #rotate(): Promise<void> {
    const name = this.#o.prng.pick(this.#o.secretNames);
    const value = this.#o.secretValues.add(`${name}-rotated-${this.stats.rotate}`);
    await this.#o.client.replace(builtin.Secret, secret(name, { url: `postgres://app:${value}@db/app` }), {
      namespace: this.#o.namespace,
    });
    this.stats.rotate++;
  }
}
