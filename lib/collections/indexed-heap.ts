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
    const i = entry.heapIndex;
    // Checked before indexing: reading items[-1] would leave the array's fast path.
    return i >= 0 && i < this.#items.length && this.#items[i] === entry;
  }

  /** Adds an entry that is in no heap. */
  push(entry: T): void {
    this.#items.push(entry);
    this.#up(entry, this.#items.length - 1);
  }

  /**
   * Takes the first entry. The hole at the root moves down along the earlier child to a leaf
   * (one comparison per level) and the last entry is sifted up from there: it usually belongs
   * near the bottom, so this makes about half the comparisons of sifting it down from the root.
   */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    top.heapIndex = -1;
    const last = items.pop()!;
    if (last === top) return top;
    const n = items.length, before = this.#before;
    let hole = 0, comparisons = 0;
    for (let child = 1; child < n; child = 2 * hole + 1) {
      if (child + 1 < n) {
        comparisons++;
        if (before(items[child + 1], items[child])) child++;
      }
      const moved = items[child];
      items[hole] = moved;
      moved.heapIndex = hole;
      hole = child;
    }
    this.#comparisons += comparisons;
    this.#up(last, hole);
    return top;
  }

  /** Removes `entry`; false when it is not in this heap. */
  remove(entry: T): boolean {
    if (!this.has(entry)) return false;
    const i = entry.heapIndex;
    entry.heapIndex = -1;
    const last = this.#items.pop()!;
    if (last !== entry && !this.#up(last, i)) this.#down(last, i);
    return true;
  }

  /** Restores the order after `entry`'s sort fields changed in place. */
  fix(entry: T): void {
    if (!this.has(entry)) return;
    const i = entry.heapIndex;
    if (!this.#up(entry, i)) this.#down(entry, i);
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

  // The sifts move a hole instead of swapping: each step writes one slot and one index, and
  // `entry` is written once where it stops.

  /** Places `entry` at slot `i` or above it, moving earlier-ordered parents down; true when it moved up. */
  #up(entry: T, i: number): boolean {
    const items = this.#items, before = this.#before, start = i;
    let comparisons = 0;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p];
      comparisons++;
      if (!before(entry, parent)) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = entry;
    entry.heapIndex = i;
    this.#comparisons += comparisons;
    return i !== start;
  }

  /** Places `entry` at slot `i` or below it, moving earlier-ordered children up. */
  #down(entry: T, i: number): void {
    const items = this.#items, before = this.#before, n = items.length;
    let comparisons = 0;
    for (let c = 2 * i + 1; c < n; c = 2 * i + 1) {
      let child = items[c];
      if (c + 1 < n) {
        comparisons++;
        if (before(items[c + 1], child)) child = items[++c];
      }
      comparisons++;
      if (!before(child, entry)) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = entry;
    entry.heapIndex = i;
    this.#comparisons += comparisons;
  }
}
