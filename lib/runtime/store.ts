/**
 * The informer's cache: objects by key with secondary indexes kept in step on every change, so
 * lookups by namespace or controller owner never scan the whole cache.
 */

/**
 * The keys of one index value: a lone key as itself, two or more as a Set (most index values —
 * an owner's uid — have one object, and a Set costs about 500 bytes on Bun).
 */
type Bucket = string | Set<string>;

/** Objects by key ("namespace/name" or "name"), with named indexes. */
export class IndexedStore<T> {
  #objects = new Map<string, T>();
  #indexers = new Map<string, (obj: T) => string[]>();
  #indexes = new Map<string, Map<string, Bucket>>();

  /** @param name for error messages (the informer's name) */
  constructor(readonly name: string) {}

  /** The object of a key. */
  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  /** Every object. */
  values(): T[] {
    return [...this.#objects.values()];
  }

  /** Every key. */
  keys(): string[] {
    return [...this.#objects.keys()];
  }

  /** Key/object pairs (live iterator; do not change the store while iterating). */
  entries(): IterableIterator<[string, T]> {
    return this.#objects.entries();
  }

  /** Number of objects. */
  get size(): number {
    return this.#objects.size;
  }

  /** Objects whose index `index` has `value`. */
  byIndex(index: string, value: string): T[] {
    const idx = this.#indexes.get(index);
    if (!idx) throw new Error(`informer ${this.name}: no index named ${index}`);
    const bucket = idx.get(value);
    const keys = bucket === undefined ? [] : typeof bucket === "string" ? [bucket] : [...bucket];
    return keys.map((k) => this.#objects.get(k)!).filter(Boolean);
  }

  /** Adds an index: `fn` returns the index values of an object. Existing objects are indexed at once. */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    if (this.#indexers.has(name)) throw new Error(`informer ${this.name}: index ${name} exists`);
    this.#indexers.set(name, fn);
    this.#indexes.set(name, new Map());
    for (const [k, o] of this.#objects) this.#index(name, fn, k, o, true);
  }

  /** Stores `obj` under `key`; returns the object it replaced. */
  set(key: string, obj: T): T | undefined {
    const prev = this.#objects.get(key);
    if (prev) this.#indexAll(key, prev, false);
    this.#objects.set(key, obj);
    this.#indexAll(key, obj, true);
    return prev;
  }

  /** Removes a key; returns the object it held. */
  delete(key: string): T | undefined {
    const prev = this.#objects.get(key);
    if (prev) this.#indexAll(key, prev, false);
    this.#objects.delete(key);
    return prev;
  }

  /** Replaces the whole contents (a relist) and re-indexes. */
  replace(fresh: Map<string, T>): void {
    for (const [k, o] of this.#objects) this.#indexAll(k, o, false);
    this.#objects = fresh;
    for (const [k, o] of fresh) this.#indexAll(k, o, true);
  }

  #indexAll(key: string, obj: T, add: boolean): void {
    for (const [name, fn] of this.#indexers) this.#index(name, fn, key, obj, add);
  }

  #index(name: string, fn: (obj: T) => string[], key: string, obj: T, add: boolean): void {
    const idx = this.#indexes.get(name)!;
    let values: string[];
    try {
      values = fn(obj);
    } catch {
      values = []; // an indexer that throws leaves the object out of that index only
    }
    for (const v of values) {
      const bucket = idx.get(v);
      if (add) {
        if (bucket === undefined) idx.set(v, key);
        else if (typeof bucket === "string") {
          if (bucket !== key) idx.set(v, new Set([bucket, key]));
        } else bucket.add(key);
      } else if (bucket === key) idx.delete(v);
      else if (typeof bucket === "object") {
        bucket.delete(key);
        if (bucket.size === 1) idx.set(v, bucket.values().next().value!);
      }
    }
  }
}
