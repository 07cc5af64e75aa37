/**
 * A runnable group on its own (docs/behaviour/manager.md, "Graceful shutdown" and "Failures"):
 * what reaches its error handler. The groups under the manager: manager-groups.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Runnable } from "../../../lib/runtime/runnable.ts";
import { type RunnableErrorPhase, RunnableGroup } from "../../../lib/runtime/runnable-group.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";

function group(clock: FakeClock) {
  const errors: [string, unknown, RunnableErrorPhase][] = [];
  const g = new RunnableGroup("test", {
    clock,
    onError: (r, err, phase) => errors.push([r.name, err, phase]),
  });
  return { g, errors };
}

/** A runnable that runs until its signal aborts, with the given graceful stop. */
function runnable(name: string, stop: Runnable["stop"]): Runnable {
  return {
    name,
    start: (signal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())),
    stop,
  };
}

describe("runnable group", () => {
  it("a graceful stop that fails is reported and does not count as unfinished", async () => {
    const clock = new FakeClock();
    const { g, errors } = group(clock);
    const boom = new Error("flush failed");
    g.add(runnable("recorder", () => Promise.reject(boom)));
    g.start();
    await flushMicrotasks();
    assert.equal(await g.stop(1_000), true);
    assert.deepEqual(errors, [["recorder", boom, "stop"]]);
  });

  it("a graceful stop that fails after it was given up on is still reported", async () => {
    const clock = new FakeClock();
    const { g, errors } = group(clock);
    const boom = new Error("flush failed late");
    let fail!: () => void;
    g.add(runnable("recorder", () => new Promise((_, reject) => (fail = () => reject(boom)))));
    g.start();
    await flushMicrotasks();
    const stopping = g.stop(1_000, 500);
    await clock.advance(1_500);
    assert.equal(await stopping, false, "given up on: unfinished");
    assert.deepEqual(errors, []);
    fail();
    await flushMicrotasks();
    assert.deepEqual(errors, [["recorder", boom, "stop"]], "the late failure is not dropped");
  });
});
