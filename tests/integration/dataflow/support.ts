/** Helpers shared by the DataFlow integration tests. */
import type { KubeRequest, Transport } from "../../../lib/kube/transport.ts";
import type { Operator } from "../../../lib/dataflow/operator.ts";
import { EventRecorder } from "../../../lib/events/mod.ts";

export { waitFor } from "../../tools/wait.ts";

/** Counts the writes (non-GET requests) that go through it. */
export class CountingTransport implements Transport {
  writes: string[] = [];
  constructor(readonly inner: Transport) {}
  get server(): string {
    return this.inner.server;
  }
  request(req: KubeRequest): Promise<Response> {
    if (req.method !== "GET") this.writes.push(`${req.method} ${req.path}`);
    return this.inner.request(req);
  }
  close(): void {
    this.inner.close();
  }
}

/** The reconciles a controller finished: the sum of its `controller_runtime_reconcile_total` series. */
export function reconcileTotal(metricsText: string, controller = "dataflow"): number {
  return metricsText.split("\n")
    .filter((l) => l.startsWith(`controller_runtime_reconcile_total{controller="${controller}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

/**
 * Whether the operator has worked off what was queued: no key ready or being reconciled (keys
 * waiting on a delay aside), and no event waiting to be written or being written.
 */
export function operatorIdle(operator: Operator): boolean {
  const queue = operator.controller.queue;
  const events = operator.events;
  const recorderIdle = !(events instanceof EventRecorder) ||
    (events.queueDepth === 0 && events.writesInFlight === 0);
  return queue.len() === 0 && queue.processing === 0 && recorderIdle;
}
