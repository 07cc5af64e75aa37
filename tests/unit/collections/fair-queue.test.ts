/** FairQueue: groups take turns, FIFO inside a group, O(1) removal anywhere. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FairQueue } from "../../../lib/collections/fair-queue.ts";

const byPrefix = (item: string) => item.split("/")[0];
const drain = (q: FairQueue<string>) => {
  const out: string[] = [];
  for (let item = q.shift(); item !== undefined; item = q.shift()) out.push(item);
  return out;
};

describe("FairQueue", () => {
  it("serves groups round-robin and each group in arrival order", () => {
    const q = new FairQueue(byPrefix);
    for (let i = 0; i < 4; i++) q.add(`a/${i}`);
    q.add("c/0");
    q.add("b/0");
    q.add("c/1");
    assert.equal(q.size, 7);
    assert.equal(q.groups, 3);
    assert.deepEqual(drain(q), ["a/0", "c/0", "b/0", "a/1", "c/1", "a/2", "a/3"]);
    assert.equal(q.size, 0);
    assert.equal(q.groups, 0);
  });

  it("puts a late group's first item after at most one item of each waiting group", () => {
    const q = new FairQueue(byPrefix);
    for (let i = 0; i < 2000; i++) q.add(`tenant-a/${i}`);
    for (let i = 0; i < 500; i++) q.add(`tenant-b/${i}`);
    q.shift();
    q.add("tenant-c/late");
    const order = drain(q);
    assert.ok(order.indexOf("tenant-c/late") <= 2, `served at position ${order.indexOf("tenant-c/late")}`);
  });

  it("ignores a second add of a queued item and keeps its place", () => {
    const q = new FairQueue(byPrefix);
    q.add("a/1");
    q.add("a/2");
    assert.equal(q.add("a/1"), false);
    assert.equal(q.size, 2);
    assert.deepEqual(drain(q), ["a/1", "a/2"]);
  });

  it("removes an item from the middle; a group emptied by removal loses its turn", () => {
    const q = new FairQueue(byPrefix);
    ["a/1", "b/1", "a/2", "a/3"].forEach((i) => q.add(i));
    assert.equal(q.delete("a/2"), true);
    assert.equal(q.delete("a/2"), false);
    assert.equal(q.delete("b/1"), true);
    assert.equal(q.has("b/1"), false);
    assert.equal(q.groups, 1);
    assert.equal(q.peek(), "a/1");
    assert.deepEqual(drain(q), ["a/1", "a/3"]);
  });

  it("iterates every queued item; peek does not take; clear empties", () => {
    const q = new FairQueue(byPrefix);
    ["x/1", "y/1", "x/2"].forEach((i) => q.add(i));
    assert.deepEqual([...q].sort(), ["x/1", "x/2", "y/1"]);
    assert.equal(q.peek(), "x/1");
    assert.equal(q.size, 3);
    q.clear();
    assert.equal(q.shift(), undefined);
    assert.equal(q.peek(), undefined);
  });
});
