/**
 * Test helpers of the toolkit, apart from the main entry point so that production code never
 * loads them: a fake clock that drives every timer, backoff and token bucket of the toolkit in
 * virtual time, a helper that lets pending promise callbacks run, and an in-memory leader lock
 * for tests of leader election and leader-gated code without an API server.
 *
 * ```ts
 * import { FakeClock } from "@dataflow/operator-toolkit/testing";
 * const clock = new FakeClock();
 * const fired = clock.sleep(1_000);
 * await clock.advance(1_000);
 * await fired;
 * ```
 * @module
 */
export { FakeClock, flushMicrotasks } from "./lib/time/fake-clock.ts";
export { MemoryLock, type MemoryLockCall, MemoryLockStore } from "./lib/runtime/memory-lock.ts";
