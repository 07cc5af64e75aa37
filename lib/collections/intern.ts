/**
 * Hash-consing of JSON values: equal values handed to one {@link InternTable} come back as one
 * shared, deeply frozen object, so a cache of many near-identical objects (the operator's owned
 * Deployments, whose pod templates differ in a few names) holds each distinct part once. The
 * caller's object is never frozen: the table holds a frozen copy of it (its frozen parts, values
 * the table returned earlier, are shared rather than copied).
 *
 * The table never keeps a value alive: it holds weak references, and a value no one else holds
 * any more is collected and its entry removed (a FinalizationRegistry callback, on Deno and Bun
 * alike). Values must be plain JSON (objects, arrays, strings, numbers, booleans, null): the key
 * is the JSON text, so two values are shared exactly when their JSON texts are equal, property
 * order included.
 */

/** A table of shared JSON values. */
export class InternTable {
  readonly #entries = new Map<string, WeakRef<object>>();
  readonly #registry = new FinalizationRegistry<string>((key) => this.#forget(key));

  /**
   * The shared value equal to `value`: the one already in the table, or a frozen copy of `value`
   * added to it.
   */
  intern<T extends object>(value: T): T {
    const key = JSON.stringify(value);
    const found = this.#entries.get(key)?.deref();
    if (found !== undefined) return found as T;
    const own = frozenCopy(value);
    this.#entries.set(key, new WeakRef(own));
    this.#registry.register(own, key);
    return own;
  }

  /** How many distinct values the table holds (entries of collected values may linger until their callback ran). */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the table holds a live value with this JSON text. */
  has(key: string): boolean {
    return this.#entries.get(key)?.deref() !== undefined;
  }

  /**
   * Drops the entry of a collected value. The key may hold a newer equal value by then (interned
   * after the old one died, before this callback ran): that entry stays.
   */
  #forget(key: string): void {
    if (this.#entries.get(key)?.deref() === undefined) this.#entries.delete(key);
  }
}

/** A deeply frozen copy of a JSON object; its frozen parts (interned values) are shared, not copied. */
function frozenCopy<T extends object>(value: T): T {
  if (Object.isFrozen(value)) return value;
  const copy = (Array.isArray(value) ? [] : {}) as Record<string, unknown>;
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    copy[k] = v !== null && typeof v === "object" ? frozenCopy(v) : v;
  }
  return Object.freeze(copy) as T;
}
