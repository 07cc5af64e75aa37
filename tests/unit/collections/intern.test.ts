/**
 * InternTable: equal JSON values come back as one frozen object, the caller's object is neither
 * frozen nor kept, and a value nothing uses any more is collected and its entry removed. The
 * collection is forced (Bun.gc; V8's gc exposed at run time through node:v8), so the release is
 * seen as it happens, not assumed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { InternTable } from "../../../lib/collections/intern.ts";
import { type Mask, project, shared } from "../../../lib/collections/project.ts";

/** A full collection, on Bun or V8. */
function collect(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

/** Collects until `done` holds (finalization callbacks run as tasks after a collection). */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(done(), "released after forced collections");
}

describe("InternTable", () => {
  it("returns one shared object for equal values, and the first value's copy", () => {
    const table = new InternTable();
    const a = { drop: ["ALL"], readOnly: true };
    const first = table.intern(a);
    const second = table.intern({ drop: ["ALL"], readOnly: true });
    assert.equal(second, first);
    assert.notEqual(first, a, "the table keeps a copy");
    assert.deepEqual(first, a);
    assert.equal(table.size, 1);
    assert.notEqual(table.intern({ drop: ["NET_RAW"], readOnly: true }), first);
    assert.equal(table.size, 2);
  });

  it("freezes the shared value deeply and leaves the caller's object as it was", () => {
    const table = new InternTable();
    const mine = { limits: { cpu: "1" }, list: [{ a: 1 }] };
    const value = table.intern(mine);
    assert.ok(Object.isFrozen(value) && Object.isFrozen(value.limits) && Object.isFrozen(value.list[0]));
    assert.throws(() => {
      (value.limits as Record<string, string>).cpu = "2";
    }, TypeError);
    assert.ok(!Object.isFrozen(mine) && !Object.isFrozen(mine.limits));
    mine.limits.cpu = "2";
    assert.equal(value.limits.cpu, "1");
  });

  it("shares values interned earlier inside a new one instead of copying them", () => {
    const table = new InternTable();
    const inner = table.intern({ type: "RuntimeDefault" });
    const outer = table.intern({ seccompProfile: inner, runAsNonRoot: true });
    assert.equal(outer.seccompProfile, inner);
  });

  it("tells values apart by their JSON text: property order and types count", () => {
    const table = new InternTable();
    const ab = table.intern({ a: 1, b: 2 });
    assert.notEqual(table.intern({ b: 2, a: 1 }), ab);
    assert.notEqual(table.intern({ a: "1", b: 2 }), ab);
    assert.notEqual(table.intern([1, 2]), table.intern({ 0: 1, 1: 2 }));
  });

  it("releases a value nothing holds any more, and interns an equal one afresh", async () => {
    const table = new InternTable();
    const key = JSON.stringify({ name: "LOG_LEVEL", value: "info" });
    const addAndDrop = () => void table.intern({ name: "LOG_LEVEL", value: "info" });
    addAndDrop();
    assert.ok(table.has(key));
    await collectUntil(() => table.size === 0);
    assert.equal(table.has(key), false);
    const again = table.intern({ name: "LOG_LEVEL", value: "info" });
    assert.ok(table.has(key));
    assert.equal(table.intern({ name: "LOG_LEVEL", value: "info" }), again);
  });

  it("keeps a value someone still holds while the dropped ones go", async () => {
    const table = new InternTable();
    const held = table.intern({ keep: true });
    const addAndDrop = () => {
      for (let i = 0; i < 10; i++) table.intern({ drop: i });
    };
    addAndDrop();
    assert.equal(table.size, 11);
    await collectUntil(() => table.size === 1);
    assert.equal(table.intern({ keep: true }), held);
  });
});

describe("project with shared masks", () => {
  const mask: Mask = { name: true, resources: shared(), env: shared({ name: true, value: true }) };

  it("interns the parts under shared masks and copies the rest", () => {
    const table = new InternTable();
    const make = (name: string) => ({
      name,
      resources: { limits: { cpu: "1" } },
      env: [{ name: "A", value: "1", extra: "dropped" }],
      other: "dropped",
    });
    const one = project(make("one"), mask, table), two = project(make("two"), mask, table);
    assert.deepEqual(one, {
      name: "one",
      resources: { limits: { cpu: "1" } },
      env: [{ name: "A", value: "1" }],
    });
    assert.equal(one.resources, two.resources);
    assert.equal(one.env, two.env, "an array is shared whole, projected first");
    assert.notEqual(one, two);
    assert.ok(!Object.isFrozen(one), "the projection itself is the caller's");
  });

  it("projects as the inner mask says when given no table", () => {
    const value = { name: "x", resources: { limits: {} }, env: [{ name: "A", value: "1", extra: 1 }] };
    const out = project(value, mask);
    assert.deepEqual(out, { name: "x", resources: { limits: {} }, env: [{ name: "A", value: "1" }] });
    assert.ok(!Object.isFrozen(out.resources));
  });

  it("keeps absent and primitive values as they are", () => {
    const table = new InternTable();
    assert.deepEqual(project({ name: "x", resources: null }, mask, table), { name: "x", resources: null });
    assert.deepEqual(project({ name: "x", env: "text" }, mask, table), { name: "x", env: "text" });
    assert.equal(table.size, 0);
  });
});
