/**
 * Garbage collection when the process has grown (lib/runtime/gc.ts): on Bun a full collection
 * after growth and none again until the process grows further; on Deno (no `--expose-gc`) never.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { collectIfGrown } from "../../../lib/runtime/gc.ts";

const onBun = "Bun" in globalThis;

describe("collectIfGrown", () => {
  it("collects after growth, then waits for more growth (Bun); does nothing without a collector (Deno)", () => {
    collectIfGrown(); // whatever earlier tests left: a baseline
    assert.equal(collectIfGrown(), false, "no growth since the last collection");
    // About 100 MiB kept alive: the resident memory grows past the threshold.
    const kept = Array.from({ length: 100 }, (_, i) => new Uint8Array(1024 * 1024).fill(i + 1));
    assert.equal(collectIfGrown(), onBun, onBun ? "grown by 100 MiB: collects" : "no collector on V8");
    assert.equal(collectIfGrown(), false, "right after a collection: nothing to do");
    assert.equal(kept.length, 100);
  });
});
