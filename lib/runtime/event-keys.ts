/**
 * How a controller turns its sources' events into queue keys (controller-runtime's event
 * handlers): each `for()`, `owns()` or `watches()` is a source plus a function from an object to
 * the keys it concerns.
 */
import type { KubeObject } from "../kube/client.ts";
import { LOW_PRIORITY, type WorkQueue } from "./queue.ts";
import type { EventSource } from "./source.ts";

/** One source of a controller and how its objects map to keys. */
export interface Watch {
  /** Where the events come from. */
  source: EventSource<KubeObject>;
  /** The keys an object concerns; `undefined` entries (no matching owner, ...) are skipped. */
  keys(obj: KubeObject): (string | undefined)[];
}

/**
 * Subscribes to `watch.source` and adds the keys of every event to `queue`. Initial-list adds
 * and resyncs (an update with an unchanged resourceVersion) go at {@link LOW_PRIORITY}, so real
 * changes are served first after a restart (controller-runtime's priority queue). An update adds
 * the keys of the old and the new object, so a child whose owner reference was removed still
 * wakes its former owner. Returns the unsubscribe.
 */
export function enqueueEvents(watch: Watch, queue: WorkQueue): () => void {
  const enqueue = (obj: KubeObject, low: boolean) => {
    for (const key of watch.keys(obj)) if (key) queue.add(key, low ? { priority: LOW_PRIORITY } : undefined);
  };
  return watch.source.on({
    add: (obj, initial) => enqueue(obj, initial === true),
    update: (oldObj, newObj) => {
      const resync = oldObj.metadata?.resourceVersion === newObj.metadata?.resourceVersion;
      enqueue(oldObj, resync);
      enqueue(newObj, resync);
    },
    delete: (obj) => enqueue(obj, false),
  });
}
