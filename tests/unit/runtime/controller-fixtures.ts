/**
 * What the controller's unit tests share (controller.test.ts, controller-sources.test.ts): an
 * event source driven by hand, a controller on a fake clock with its result counters, and log
 * capture.
 */
import type { KubeObject } from "../../../lib/kube/client.ts";
import { type ResourceType, resourceType as rtype } from "../../../lib/kube/resources.ts";
import { configureLogging } from "../../../lib/observe/log.ts";
import { Registry } from "../../../lib/observe/metrics.ts";
import { FakeClock } from "../../../lib/time/fake-clock.ts";
import { Controller } from "../../../lib/runtime/controller.ts";
import type { ReconcileContext } from "../../../lib/runtime/reconciler.ts";
import type { EventSource, SourceHandlers } from "../../../lib/runtime/source.ts";
import { objectKey } from "../../../lib/runtime/keys.ts";

/** An event source driven by hand: what a controller reads from an informer. */
export class StubSource implements EventSource<KubeObject> {
  handlers = new Set<SourceHandlers<KubeObject>>();
  objects = new Map<string, KubeObject>();
  synced = true;
  #waiters: (() => void)[] = [];
  constructor(readonly name: string, readonly resourceType: ResourceType = rtype("v1", "Thing", "things")) {}
  on(h: SourceHandlers<KubeObject>) {
    this.handlers.add(h);
    if (this.synced) { for (const o of this.objects.values()) h.add?.(o, true); }
    return () => this.handlers.delete(h);
  }
  hasSynced() {
    return this.synced;
  }
  waitForSync(signal?: AbortSignal) {
    if (this.synced) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push(resolve);
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }
  markSynced() {
    this.synced = true;
    for (const w of this.#waiters.splice(0)) w();
  }
  list() {
    return [...this.objects.values()];
  }
  add(o: KubeObject) {
    this.objects.set(objectKey(o), o);
    for (const h of this.handlers) h.add?.(o);
  }
  update(oldObj: KubeObject, newObj: KubeObject) {
    this.objects.set(objectKey(newObj), newObj);
    for (const h of this.handlers) h.update?.(oldObj, newObj);
  }
  delete(o: KubeObject) {
    this.objects.delete(objectKey(o));
    for (const h of this.handlers) h.delete?.(o);
  }
}

/** The log lines {@link captureLogs} collected, parsed. */
export const lines: Record<string, unknown>[] = [];

/** Collects every log line (debug and up) in {@link lines}. */
export function captureLogs(): void {
  lines.length = 0;
  configureLogging({ level: "debug", format: "json", write: (l) => lines.push(JSON.parse(l)) });
}

/** Silences logging again (each test file's `afterEach`). */
export function quietLogs(): void {
  configureLogging({ level: "fatal", write: () => {} });
}

type Result = void | { requeueAfterMs: number } | { requeue: true };

/** A controller "test" reconciling with `fn`, on a fake clock, with its counters. */
export function setup(fn: (ctx: ReconcileContext) => Promise<Result> | Result, concurrency = 1) {
  const clock = new FakeClock();
  const registry = new Registry();
  const reconcile = async (ctx: ReconcileContext) => await fn(ctx);
  const c = new Controller({ name: "test", reconcile, concurrency, registry, clock });
  const total = (result: string) =>
    registry.counter("controller_runtime_reconcile_total", "", ["controller", "result"]).get({
      controller: "test",
      result,
    });
  const count = (name: string) => registry.counter(name, "", ["controller"]).get({ controller: "test" });
  return { clock, registry, c, total, count };
}
