/** useFullJit restores Bun's normal JIT policy once, and does nothing where there is no such policy. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { useFullJit } from "../../../lib/runtime/jit.ts";

it("sets Bun's JIT policy back to 1, once", () => {
  const g = globalThis as { Bun?: unknown };
  const real = g.Bun as { unsafe?: Record<string, unknown> } | undefined;
  const calls: number[] = [];
  const setJITPolicy = (scale: number) => void calls.push(scale);
  // On Bun the real object stays (its other members are in use); only its setter is watched.
  const restore = real?.unsafe
    ? ((original) => () => (real.unsafe!.setJITPolicy = original))(real.unsafe.setJITPolicy)
    : () => delete g.Bun;
  if (real?.unsafe) real.unsafe.setJITPolicy = setJITPolicy;
  else g.Bun = { unsafe: { setJITPolicy } };
  try {
    useFullJit();
    useFullJit();
    assert.deepEqual(calls, [1]);
  } finally {
    restore();
  }
});
