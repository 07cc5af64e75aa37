/**
 * Event latency as a user sees it: when each Event of a namespace first appears on the API server
 * (through a watch) against the moment the operator emitted it. Used by the throughput benchmark
 * (bench/throughput.ts) and the new-DataFlow burst benchmark (bench/events/burst.ts).
 */
import type { KubeClient, KubeObject } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { Registry } from "../../lib/observe/metrics.ts";
import { Informer } from "../../lib/runtime/mod.ts";
import { sleep } from "../lib/stats.ts";

/**
 * Watches the Events of a namespace and notes when each one is first seen (wall clock). Its
 * latency is that moment minus its `eventTime`, which the operator's recorder sets (microsecond
 * format, millisecond clock) to the moment the reconcile emitted it: emission -> on the server
 * (and delivered to a watch, so an upper bound by the watch's own delay). Same machine, same clock.
 */
export class EventLatencyWatch {
  #informer: Informer<KubeObject>;
  #stop = new AbortController();
  /** Per Event name: latency in ms of its first occurrence, and its count when last seen. */
  readonly latencyMs = new Map<string, number>();
  readonly counts = new Map<string, number>();

  constructor(client: KubeClient, namespace: string) {
    this.#informer = new Informer(client, builtin.Event, {
      namespace,
      name: "bench-events",
      registry: new Registry(),
    });
    const seen = (e: KubeObject) => {
      const name = e.metadata?.name ?? "";
      const count = Number((e as { count?: number }).count ?? 1);
      this.counts.set(name, count);
      if (this.latencyMs.has(name)) return;
      const emitted = Date.parse(String((e as { eventTime?: string }).eventTime ?? ""));
      if (Number.isFinite(emitted)) this.latencyMs.set(name, Date.now() - emitted);
    };
    this.#informer.on({ add: seen, update: (_, e) => seen(e) });
  }

  async start(): Promise<void> {
    void this.#informer.start(this.#stop.signal).catch(() => {});
    await this.#informer.waitForSync();
  }

  /** Sum of the counts of every Event seen. */
  get occurrences(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** Waits until the Events seen carry `occurrences` occurrences, or `timeoutMs` passed. */
  async waitFor(occurrences: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.occurrences < occurrences && Date.now() < deadline) await sleep(100);
    return this.occurrences >= occurrences;
  }

  stop(): void {
    this.#stop.abort();
    this.#informer.stop();
  }
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
