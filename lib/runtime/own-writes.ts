/**
 * Read-your-own-writes over an informer cache. A reconcile that writes an object (a finalizer
 * patch, a status patch) gets the new version back at once, but the cache learns of it only when
 * the watch delivers it. A reconcile of the same key that runs before then would read the version
 * the write replaced and act on it again: a second finalizer or status patch, failing with 409
 * Conflict and costing a retry. controller-runtime lives with that (the next reconcile conflicts
 * and backs off); this overlay avoids it.
 *
 * Per object key it remembers the resourceVersions the operator's own writes replaced and the
 * object the last write returned. A cache read that still shows a replaced version is answered
 * with that object; any other read (the cache caught up, someone else wrote, the object is gone)
 * ends the entry, so the cache is the truth again and the overlay holds nothing for objects
 * whose writes have been seen.
 */
import type { KubeObject } from "../kube/client.ts";

/** Options of {@link OwnWrites}. */
export interface OwnWritesOptions<T> {
  /**
   * What to keep of a written object until the cache catches up (default: the object as the API
   * returned it). An operator whose cache keeps a reduced copy passes the same reduction here.
   */
  retain?: (obj: T) => T;
}

interface Entry<T> {
  /** resourceVersions replaced by the operator's own writes. */
  replaced: Set<string>;
  /** The object as the operator's last write returned it. */
  latest: T;
}

/** The operator's own writes per object key, until the cache shows them. */
export class OwnWrites<T extends KubeObject> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #retain: (obj: T) => T;

  /** An empty overlay; `options.retain` chooses what of each written object is kept. */
  constructor(options: OwnWritesOptions<T> = {}) {
    this.#retain = options.retain ?? ((obj) => obj);
  }

  /**
   * Records a write of the object under `key`: `before` is the version the write replaced,
   * `after` the object the API server returned.
   */
  record(key: string, before: T, after: T): void {
    const latest = this.#retain(after);
    const entry = this.#entries.get(key) ?? { replaced: new Set<string>(), latest };
    const replaced = before.metadata?.resourceVersion;
    if (replaced) entry.replaced.add(replaced);
    entry.latest = latest;
    this.#entries.set(key, entry);
  }

  /**
   * The object to act on, given the cache's copy (undefined when the cache has none): the last
   * written object while the cache still shows a version an own write replaced, else the cache's
   * copy, which then ends the key's entry.
   */
  read(key: string, cached: T | undefined): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return cached;
    const version = cached?.metadata?.resourceVersion;
    if (cached && version !== undefined && entry.replaced.has(version)) return entry.latest;
    this.#entries.delete(key);
    return cached;
  }

  /** Keys with writes the cache has not shown yet. */
  get size(): number {
    return this.#entries.size;
  }
}
