/**
 * A binary heap whose entries know their position, so one can be removed or moved after its order
 * changed in O(log n), as client-go's delaying queue keeps its waiting items (`waitForPriorityQueue`
 * with an index per entry). A heap without positions needs a linear search to remove an entry,
 * which turns a relist of n objects followed by their removal into n² work.
 *
 * It counts the comparisons it makes, so tests can prove the cost grows as n log n without timing
 * anything. It depends on nothing.
 */

/** An entry of an {@link IndexedHeap}: the heap keeps `heapIndex` up to date (-1 when not in a heap). */
export interface HeapEntry {
  heapIndex: number;
}

/** A min-heap of entries ordered by `before`; entries hold their own position. */
export class IndexedHeap<T extends HeapEntry> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;
  #comparisons = 0;

  /** @param before whether `a` leaves the heap before `b` (a strict order: false for equal entries) */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  /** Entries in the heap. */
  get size(): number {
    return this.#items.length;
  }

  /** Comparisons made since the heap was created (for tests and benchmarks of its cost). */
  get comparisons(): number {
    return this.#comparisons;
  }

  /** The first entry, without taking it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Whether `entry` is in this heap. */
  has(entry: T): boolean {
    return this.#items[entry.heapIndex] === entry;
  }

  /** Adds an entry that is in no heap. */
  push(entry: T): void {
    entry.heapIndex = this.#items.length;
    this.#items.push(entry);
    this.#up(entry.heapIndex);
  }

  /** Takes the first entry. */
  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Removes `entry`; false when it is not in this heap. */
  remove(entry: T): boolean {
    if (!this.has(entry)) return false;
    const i = entry.heapIndex;
    const last = this.#items.pop()!;
    entry.heapIndex = -1;
    if (last !== entry) {
      this.#items[i] = last;
      last.heapIndex = i;
      this.fix(last);
    }
    return true;
  }

  /** Restores the order after `entry`'s sort fields changed in place. */
  fix(entry: T): void {
    if (!this.has(entry)) return;
    if (!this.#up(entry.heapIndex)) this.#down(entry.heapIndex);
  }

  /** Empties the heap. */
  clear(): void {
    for (const e of this.#items) e.heapIndex = -1;
    this.#items.length = 0;
  }

  /** Every entry, in no promised order. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.#items[Symbol.iterator]();
  }

  #less(i: number, j: number): boolean {
    this.#comparisons++;
    return this.#before(this.#items[i], this.#items[j]);
  }

  #swap(i: number, j: number): void {
    const items = this.#items;
    [items[i], items[j]] = [items[j], items[i]];
    items[i].heapIndex = i;
    items[j].heapIndex = j;
  }

  /** Moves the entry at `i` towards the root; true when it moved. */
  #up(i: number): boolean {
    const start = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
    return i !== start;
  }

  #down(i: number): void {
    const n = this.#items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.#less(right, left) ? right : left;
      if (!this.#less(child, i)) return;
      this.#swap(i, child);
      i = child;
    }
  }
}
