/** IndexedHeap: order, positions kept up to date, removal and re-ordering in place, n log n cost. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type HeapEntry, IndexedHeap } from "../../../lib/collections/indexed-heap.ts";

interface Item extends HeapEntry {
  value: number;
  id: number;
}

const byValueThenId = (a: Item, b: Item) => a.value !== b.value ? a.value < b.value : a.id < b.id;
const item = (value: number, id: number): Item => ({ value, id, heapIndex: -1 });

/** A deterministic pseudo-random sequence (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every entry's `heapIndex` names its own slot, and no child comes before its parent. */
function assertValid(heap: IndexedHeap<Item>): void {
  const items = [...heap];
  items.forEach((e, i) => {
    assert.equal(e.heapIndex, i, `entry ${e.id} knows its slot`);
    if (i > 0) assert.ok(!byValueThenId(e, items[(i - 1) >> 1]), `entry ${e.id} is not before its parent`);
  });
}

describe("IndexedHeap", () => {
  it("pops in order, duplicates of one value by their tie-breaker", () => {
    const heap = new IndexedHeap(byValueThenId);
    [5, 3, 8, 3, 1, 9, 0, 5].forEach((v, i) => heap.push(item(v, i)));
    assert.equal(heap.peek()?.value, 0);
    const out: string[] = [];
    for (let e = heap.pop(); e; e = heap.pop()) out.push(`${e.value}:${e.id}`);
    assert.deepEqual(out, ["0:6", "1:4", "3:1", "3:3", "5:0", "5:7", "8:2", "9:5"]);
    assert.equal(heap.size, 0);
    assert.equal(heap.pop(), undefined);
  });

  it("removes any entry and re-orders one whose key changed, matching a sorted reference", () => {
    const next = random(42);
    const heap = new IndexedHeap(byValueThenId);
    let reference: Item[] = [];
    let id = 0;
    for (let step = 0; step < 5000; step++) {
      const r = next();
      if (r < 0.45 || reference.length === 0) {
        const e = item(Math.floor(next() * 100), id++);
        heap.push(e);
        reference.push(e);
      } else if (r < 0.65) {
        const e = reference[Math.floor(next() * reference.length)];
        assert.equal(heap.remove(e), true);
        assert.equal(e.heapIndex, -1);
        assert.equal(heap.remove(e), false, "a removed entry is not removed twice");
        reference = reference.filter((x) => x !== e);
      } else if (r < 0.8) {
        const e = reference[Math.floor(next() * reference.length)];
        e.value = Math.floor(next() * 100);
        heap.fix(e);
      } else {
        reference.sort((a, b) => byValueThenId(a, b) ? -1 : 1);
        const first = reference.shift();
        assert.equal(heap.pop(), first);
      }
      if (step % 250 === 0) assertValid(heap);
      assert.equal(heap.size, reference.length);
    }
    assertValid(heap);
    reference.sort((a, b) => byValueThenId(a, b) ? -1 : 1);
    for (const e of reference) assert.equal(heap.pop(), e);
  });

  it("knows which entries it holds; fix of an entry it does not hold changes nothing", () => {
    const heap = new IndexedHeap(byValueThenId);
    const inside = item(1, 0), outside = item(0, 1);
    heap.push(inside);
    assert.equal(heap.has(inside), true);
    assert.equal(heap.has(outside), false);
    heap.fix(outside);
    assert.equal(heap.remove(outside), false);
    assert.equal(heap.peek(), inside);
    heap.clear();
    assert.equal(inside.heapIndex, -1);
    assert.equal(heap.has(inside), false);
    assert.equal(heap.size, 0);
  });

  it("costs n log n comparisons for n pushes and pops (counted, not timed)", () => {
    const next = random(7);
    const cost = (n: number) => {
      const heap = new IndexedHeap(byValueThenId);
      for (let i = 0; i < n; i++) heap.push(item(Math.floor(next() * n), i));
      while (heap.pop());
      return heap.comparisons;
    };
    for (const n of [1000, 10_000]) {
      const c = cost(n);
      assert.ok(c <= 3 * n * Math.log2(n), `${n} entries: ${c} comparisons`);
    }
  });
});
