/**
 * The call-site cost of the event recorder: how long 100,000 `warn()` calls take while the API
 * hangs (500 objects x 7 messages: 3,500 series, every other call coalesced). The objective is
 * that they return within a second, as a reconcile loop must never wait for its events. A figure,
 * not a test: a timing bound on a shared machine belongs here, where it is read, not asserted.
 * Part of the storm benchmark's results (bench/events/storm.ts).
 *
 * Run alone: deno run -A bench/events/emit-cost.ts
 */
import process from "node:process";
import { EventRecorder } from "../../lib/events/mod.ts";
import { KubeClient } from "../../lib/kube/client.ts";
import type { KubeRequest, Transport } from "../../lib/kube/transport.ts";
import { Registry } from "../../lib/observe/metrics.ts";

/** The figure: milliseconds for `emits` calls, the median of `runs` runs, and every run. */
export interface EmitCost {
  emits: number;
  medianMs: number;
  runsMs: number[];
}

/** A transport whose requests never answer (until the recorder aborts them at close). */
const hanging: Transport = {
  server: "https://hanging.invalid",
  request: (req: KubeRequest) =>
    new Promise((_, reject) => req.signal?.addEventListener("abort", () => reject(req.signal!.reason))),
  close: () => {},
};

/** Measures `emits` calls on a fresh recorder, `runs` times. */
export async function measureEmitCost(emits = 100_000, runs = 5): Promise<EmitCost> {
  const runsMs: number[] = [];
  for (let run = 0; run < runs; run++) {
    const registry = new Registry();
    const r = new EventRecorder(new KubeClient(hanging, { registry }), { component: "bench", registry });
    const pod = Array.from({ length: 500 }, (_, i) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `p${i}`, namespace: "bench", uid: `uid-${i}` },
    }));
    const started = performance.now();
    for (let i = 0; i < emits; i++) r.warn(pod[i % 500], "Storm", `message ${i % 7}`);
    runsMs.push(performance.now() - started);
    await r.close({ timeoutMs: 10 });
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { emits, medianMs: sorted[Math.floor(sorted.length / 2)], runsMs };
}

/** The figure as a line of the results. */
export function describeEmitCost(c: EmitCost): string {
  return `${c.emits.toLocaleString("en")} emits while the API hangs returned in ${
    c.medianMs.toFixed(0)
  } ms ` +
    `(median of ${c.runsMs.length}: ${
      c.runsMs.map((ms) => ms.toFixed(0)).join(", ")
    } ms; objective < 1,000 ms)`;
}

if (import.meta.main) {
  const cost = await measureEmitCost();
  console.log(describeEmitCost(cost));
  if (cost.medianMs >= 1000) process.exitCode = 1;
}
