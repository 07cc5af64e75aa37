/**
 * A FIFO that takes turns between groups: items of one group leave in the order they came, and
 * the groups (for the operator: namespaces, i.e. tenants) are served round-robin, so one group
 * with 2,000 waiting items delays another group's next item by at most one item per group.
 *
 * Every operation is O(1): each group is an insertion-ordered Set, and the turn order is the
 * insertion order of a Map whose served group moves to the back. The event recorder's send queue
 * uses it (the work queue gets the same turns from its heap, lib/runtime/ready-keys.ts); it
 * depends on nothing.
 */
export class FairQueue<T> {
  /** The groups in turn order; each holds its items in arrival order (never empty). */
  readonly #groups = new Map<string, Set<T>>();
  readonly #groupOf: (item: T) => string;
  #size = 0;

  /** @param groupOf the group an item belongs to; must return the same group for an item every time */
  constructor(groupOf: (item: T) => string) {
    this.#groupOf = groupOf;
  }

  /** Items queued. */
  get size(): number {
    return this.#size;
  }

  /** Groups that have items queued. */
  get groups(): number {
    return this.#groups.size;
  }

  /** Whether `item` is queued. */
  has(item: T): boolean {
    return this.#groups.get(this.#groupOf(item))?.has(item) ?? false;
  }

  /** Queues `item` at the back of its group (a group new to the queue takes its turn last); false when already queued. */
  add(item: T): boolean {
    const group = this.#groupOf(item);
    let items = this.#groups.get(group);
    if (!items) this.#groups.set(group, items = new Set());
    else if (items.has(item)) return false;
    items.add(item);
    this.#size++;
    return true;
  }

  /** Removes `item` wherever it waits; its group keeps its turn. False when it was not queued. */
  delete(item: T): boolean {
    const group = this.#groupOf(item);
    const items = this.#groups.get(group);
    if (!items?.delete(item)) return false;
    if (items.size === 0) this.#groups.delete(group);
    this.#size--;
    return true;
  }

  /** The item whose turn it is, without taking it. */
  peek(): T | undefined {
    for (const items of this.#groups.values()) return first(items);
    return undefined;
  }

  /** Takes the item whose turn it is; its group, if it has more, moves to the back of the turn order. */
  shift(): T | undefined {
    for (const [group, items] of this.#groups) {
      const item = first(items)!;
      items.delete(item);
      this.#groups.delete(group);
      if (items.size > 0) this.#groups.set(group, items);
      this.#size--;
      return item;
    }
    return undefined;
  }

  /** Every queued item, in no promised order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const items of this.#groups.values()) yield* items;
  }

  /** Empties the queue. */
  clear(): void {
    this.#groups.clear();
    this.#size = 0;
  }
}

function first<T>(items: Set<T>): T | undefined {
  for (const item of items) return item;
  return undefined;
}
