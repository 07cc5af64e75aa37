/** The informer's indexed store (lib/runtime/store.ts): indexes follow every set, delete and replace. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IndexedStore } from "../../../lib/runtime/store.ts";

type Obj = { owner: string; v?: number };
const names = (xs: Obj[]) => xs.map((o) => `${o.owner}:${o.v}`).sort();

describe("IndexedStore", () => {
  it("finds one, then several, then one object of an index value as they come and go", () => {
    const s = new IndexedStore<Obj>("test");
    s.addIndex("owner", (o) => [o.owner]);
    s.set("a", { owner: "x", v: 1 });
    assert.deepEqual(names(s.byIndex("owner", "x")), ["x:1"]);
    s.set("b", { owner: "x", v: 2 });
    s.set("c", { owner: "x", v: 3 });
    assert.deepEqual(names(s.byIndex("owner", "x")), ["x:1", "x:2", "x:3"]);
    s.delete("b");
    s.delete("c");
    assert.deepEqual(names(s.byIndex("owner", "x")), ["x:1"]);
    s.set("a", { owner: "x", v: 4 }); // an update of the lone member keeps it indexed once
    assert.deepEqual(names(s.byIndex("owner", "x")), ["x:4"]);
    s.set("a", { owner: "y", v: 5 }); // moves to another value
    assert.deepEqual(s.byIndex("owner", "x"), []);
    assert.deepEqual(names(s.byIndex("owner", "y")), ["y:5"]);
    s.delete("a");
    assert.deepEqual(s.byIndex("owner", "y"), []);
  });

  it("re-indexes on replace, and indexes what is there when an index is added", () => {
    const s = new IndexedStore<Obj>("test");
    s.set("a", { owner: "x", v: 1 });
    s.set("b", { owner: "x", v: 2 });
    s.addIndex("owner", (o) => [o.owner]);
    assert.deepEqual(names(s.byIndex("owner", "x")), ["x:1", "x:2"]);
    s.replace(new Map([["b", { owner: "z", v: 3 }], ["c", { owner: "x", v: 4 }]]));
    assert.deepEqual(names(s.byIndex("owner", "x")), ["x:4"]);
    assert.deepEqual(names(s.byIndex("owner", "z")), ["z:3"]);
    assert.throws(() => s.byIndex("missing", "x"), /no index named missing/);
  });
});
