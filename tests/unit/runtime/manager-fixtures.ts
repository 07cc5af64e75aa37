/**
 * What the manager's unit tests share (manager.test.ts, manager-groups.test.ts): moving a fake
 * clock until a condition holds, settling a promise that needs fake time, and reading the
 * health and metrics endpoints.
 */
import assert from "node:assert/strict";
import type { FakeClock } from "../../../lib/time/fake-clock.ts";

/** Polling of real-time waits (`waitFor`) in the manager's tests. */
export const poll = { timeoutMs: 20_000, intervalMs: 5 };

/** GETs `path` from a manager's HTTP server on `port`. */
export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

/** Moves the fake clock in steps until `cond` holds. */
export async function advanceUntil(
  clock: FakeClock,
  cond: () => boolean,
  what: string,
  maxMs = 120_000,
  stepMs = 100,
): Promise<void> {
  const end = clock.now() + maxMs;
  while (!cond()) {
    if (clock.now() >= end) assert.fail(`fake time ran out waiting for ${what}`);
    await clock.advance(stepMs);
  }
}

/** Settles a promise that may need fake time to pass. */
export async function settle<T>(clock: FakeClock, p: Promise<T>, what: string): Promise<T> {
  let done = false;
  const out = p.finally(() => (done = true));
  await advanceUntil(clock, () => done, what);
  return await out;
}
