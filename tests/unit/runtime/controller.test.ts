/**
 * The controller loop (docs/behaviour/queue-and-controller.md) on a fake clock: parallel workers,
 * the outcome table (backoff, requeues, terminal errors, panics, conflicts), retries after the
 * API recovers, graceful and hard stops, and its log lines. Its event sources: controller-sources.test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConflictError, ForbiddenError } from "../../../lib/kube/errors.ts";
import { flushMicrotasks } from "../../../lib/time/fake-clock.ts";
import { TerminalError } from "../../../lib/runtime/reconciler.ts";
import { captureLogs, lines, quietLogs, setup } from "./controller-fixtures.ts";

afterEach(quietLogs);

describe("controller", () => {
  it("runs distinct keys in parallel up to the concurrency, never one key twice at once", async () => {
    for (const [concurrency, expectedEnd] of [[4, 1_000], [1, 4_000]] as const) {
      const running = new Set<string>();
      let maxParallel = 0;
      let overlap = false;
      const finished: number[] = [];
      const { clock, c } = setup(async (ctx) => {
        if (running.has(ctx.key)) overlap = true;
        running.add(ctx.key);
        maxParallel = Math.max(maxParallel, running.size);
        await clock.sleep(1_000);
        running.delete(ctx.key);
        finished.push(clock.now());
      }, concurrency);
      const run = c.start();
      for (const k of ["a", "b", "c", "d"]) c.enqueue(k);
      await clock.advance(10);
      c.enqueue("a");
      await clock.advance(10_000);
      assert.equal(overlap, false);
      assert.equal(maxParallel, concurrency);
      assert.equal(finished[3], expectedEnd);
      assert.equal(finished.length, 5, "a ran once more after its re-add");
      await c.stop({ timeoutMs: 1_000 });
      await run;
    }
  });

  it("backs off 5, 10, 20 ms on errors, then a success forgets the backoff", async () => {
    let calls = 0;
    const at: number[] = [];
    let failNext = 3;
    const { clock, c, total, count } = setup(() => {
      calls++;
      at.push(clock.now());
      if (failNext-- > 0) throw new Error("boom");
    });
    const run = c.start();
    c.enqueue("a");
    await clock.advance(1_000);
    assert.equal(calls, 4);
    assert.deepEqual(at.map((t, i) => (i ? t - at[i - 1] : t)), [0, 5, 10, 20]);
    assert.equal(total("error"), 3);
    assert.equal(total("success"), 1);
    assert.equal(count("controller_runtime_reconcile_errors_total"), 3);
    failNext = 1;
    c.enqueue("a");
    await clock.advance(1);
    await clock.advance(3);
    assert.equal(calls, 5);
    await clock.advance(1);
    assert.equal(calls, 6, "the next failure starts again at 5 ms");
    await c.stop();
    await run;
  });

  it("keys that failed on the API are retried as soon as another reconcile succeeds, not at their backoff", async () => {
    // "blocked" fails with 403 until the permission is granted; its backoff grows to minutes.
    let granted = false;
    const runs: Record<string, number[]> = { blocked: [], other: [] };
    const { clock, c } = setup((ctx) => {
      runs[ctx.key].push(clock.now());
      if (ctx.key === "blocked" && !granted) {
        throw new ForbiddenError("deployments.apps is forbidden", { code: 403, reason: "Forbidden" });
      }
    });
    const run = c.start();
    c.enqueue("blocked");
    await clock.advance(600_000); // 5 ms doubling: 17 failures, the next retry ~5.5 min away
    const failures = runs.blocked.length;
    assert.ok(failures >= 15, `${failures}`);
    granted = true;
    const grantedAt = clock.now();
    c.enqueue("other"); // any success shows the API answers
    await clock.advance(10);
    assert.equal(runs.blocked.length, failures + 1, "retried right after the other key succeeded");
    assert.ok(runs.blocked.at(-1)! - grantedAt < 10);
    await c.stop();
    await run;
  });

  it("alone, a key that failed on the API is retried within seconds of the fix (a canary every 2 s)", async () => {
    let granted = false;
    const runs: number[] = [];
    const { clock, c } = setup(() => {
      runs.push(clock.now());
      if (!granted) throw new ForbiddenError("forbidden", { code: 403, reason: "Forbidden" });
    });
    const run = c.start();
    c.enqueue("blocked");
    await clock.advance(600_000);
    // Failing for 10 minutes cost about one attempt per 2 s, not one per backoff step only.
    assert.ok(runs.length <= 600 / 2 + 20, `${runs.length} attempts`);
    granted = true;
    const grantedAt = clock.now();
    await clock.advance(2_100);
    assert.ok(runs.at(-1)! > grantedAt && runs.at(-1)! - grantedAt <= 2_000, "retried within 2 s of the fix");
    const after = runs.length;
    await clock.advance(600_000);
    assert.equal(runs.length, after, "no retries once it succeeded");
    await c.stop();
    await run;
  });

  it("a key failing on the API costs at most one retry per 2 s, however many reconciles succeed around it", async () => {
    const runs: Record<string, number[]> = { blocked: [], other: [] };
    const { clock, c } = setup((ctx) => {
      runs[ctx.key].push(clock.now());
      if (ctx.key === "blocked") throw new ForbiddenError("forbidden", { code: 403, reason: "Forbidden" });
    });
    const run = c.start();
    c.enqueue("blocked");
    await clock.advance(60_000);
    const before = runs.blocked.length;
    // Successes every 3 s for a minute: one recovery retry, then only the growing backoff.
    for (let i = 0; i < 20; i++) {
      c.enqueue("other");
      await clock.advance(3_000);
    }
    // One canary retry per 2 s at most (it is the only failing key), whatever the successes around it.
    assert.ok(runs.blocked.length - before <= 32, `${runs.blocked.length - before} retries in a minute`);
    await c.stop();
    await run;
  });

  it("requeueAfter runs again at that time, without rate limit, and resets the failures", async () => {
    const at: number[] = [];
    let mode: "fail" | "after" = "fail";
    const { clock, c, total } = setup((ctx) => {
      at.push(clock.now());
      if (mode === "fail") {
        mode = "after";
        throw new Error("once");
      }
      assert.equal(ctx.retries, at.length === 2 ? 1 : 0);
      if (at.length < 4) return { requeueAfterMs: 30_000 };
    });
    const run = c.start();
    c.enqueue("a");
    await clock.advance(100_000);
    assert.deepEqual(at, [0, 5, 30_005, 60_005]);
    assert.equal(total("requeue_after"), 2);
    assert.equal(total("success"), 1);
    assert.equal(c.queue.numRequeues("a"), 0);
    await c.stop();
    await run;
  });

  it("requeue: true runs again at the key's growing backoff, counted as requeue, not as an error", async () => {
    const at: number[] = [];
    const { clock, c, total, count } = setup(() => {
      at.push(clock.now());
      if (at.length < 4) return { requeue: true };
    });
    const run = c.start();
    c.enqueue("a");
    await clock.advance(1_000);
    assert.deepEqual(at, [0, 5, 15, 35]);
    assert.equal(total("requeue"), 3);
    assert.equal(total("success"), 1);
    assert.equal(count("controller_runtime_reconcile_errors_total"), 0);
    assert.equal(c.queue.numRequeues("a"), 0, "the final success forgets the backoff");
    await c.stop();
    await run;
  });

  it("an error that also asks for requeueAfter gets the error backoff and a warning", async () => {
    captureLogs();
    const at: number[] = [];
    const { clock, c } = setup(() => {
      at.push(clock.now());
      if (at.length === 1) throw Object.assign(new Error("both"), { requeueAfterMs: 30_000 });
    });
    const run = c.start();
    c.enqueue("a");
    await clock.advance(60_000);
    assert.deepEqual(at, [0, 5]);
    assert.ok(lines.some((l) => l.level === "WARN" && String(l.message).includes("requeueAfterMs")));
    await c.stop();
    await run;
  });

  it("a terminal error is not requeued; a thrown bug is counted as a panic and retried", async () => {
    let calls = 0;
    const { clock, c, count, total } = setup((ctx) => {
      calls++;
      if (ctx.key === "t") throw new TerminalError("spec is invalid");
      if (ctx.key === "p" && calls < 4) {
        // deno-lint-ignore no-explicit-any
        (undefined as any).boom();
      }
    });
    const run = c.start();
    c.enqueue("t");
    await clock.advance(10_000);
    assert.equal(calls, 1);
    assert.equal(count("controller_runtime_terminal_reconcile_errors_total"), 1);
    c.enqueue("p");
    await clock.advance(10_000);
    assert.equal(count("controller_runtime_reconcile_panics_total"), 2);
    assert.equal(total("success"), 1, "the worker survived and the key finally succeeded");
    await c.stop();
    await run;
  });

  it("a 409 Conflict after a stale read is requeued with backoff and logged below error level", async () => {
    captureLogs();
    const at: number[] = [];
    const { clock, c } = setup(() => {
      at.push(clock.now());
      if (at.length === 1) {
        throw new ConflictError("PUT x: the object has been modified", { code: 409, reason: "Conflict" });
      }
    });
    const run = c.start();
    c.enqueue("ns/x");
    await clock.advance(100);
    assert.deepEqual(at, [0, 5]);
    const conflictLines = lines.filter((l) => String(l.message).includes("conflict"));
    assert.ok(conflictLines.length === 1 && conflictLines[0].level === "INFO");
    await c.stop();
    await run;
  });

  it("stop: no new keys start, in-flight ones finish, start resolves after them", async () => {
    const started: string[] = [];
    let finished = 0;
    let aborted = false;
    const { clock, c } = setup(async (ctx) => {
      started.push(ctx.key);
      await clock.sleep(5_000);
      if (ctx.signal.aborted) aborted = true;
      finished++;
    });
    let runDone = false;
    const run = c.start().then(() => (runDone = true));
    c.enqueue("a");
    c.enqueue("b");
    await clock.advance(1_000);
    const stopped = c.stop({ timeoutMs: 30_000 });
    c.enqueue("c");
    await clock.advance(1_000);
    assert.equal(runDone, false);
    await clock.advance(3_000);
    assert.equal(await stopped, true);
    await flushMicrotasks();
    assert.equal(runDone, true);
    await run;
    assert.deepEqual(started, ["a"]);
    assert.equal(finished, 1);
    assert.equal(aborted, false, "a graceful stop does not abort the reconcile");
  });

  it("a reconcile that hangs past the stop timeout has its signal aborted and stop reports false", async () => {
    let sawAbort = false;
    const { clock, c } = setup((ctx) =>
      new Promise<void>((resolve) => {
        ctx.signal.addEventListener("abort", () => {
          sawAbort = true;
          resolve();
        });
      })
    );
    const run = c.start();
    c.enqueue("hang");
    await clock.advance(10);
    const stopped = c.stop({ timeoutMs: 2_000 });
    await clock.advance(2_000);
    assert.equal(await stopped, false);
    assert.equal(sawAbort, true);
    await run;
  });

  it("logs each reconcile with its short id, and pre-initialises the four result series", async () => {
    captureLogs();
    let n = 0;
    const { clock, c, registry } = setup((ctx) => {
      ctx.log.info("working on {key}");
      if (++n === 2) throw new Error("x");
      if (n === 3) return { requeueAfterMs: 1_000_000 };
    });
    const text0 = registry.render();
    for (const r of ["success", "error", "requeue", "requeue_after"]) {
      assert.match(
        text0,
        new RegExp(`controller_runtime_reconcile_total\\{controller="test",result="${r}"\\} 0`),
      );
    }
    const run = c.start();
    c.enqueue("ns/a");
    await clock.advance(1);
    c.enqueue("ns/a");
    await clock.advance(100);
    const mine = lines.filter((l) => l.message === "working on ns/a");
    assert.equal(mine.length, 3);
    const ids = mine.map((l) => l.reconcileID as string);
    assert.ok(ids.every((id) => typeof id === "string" && id.length >= 4));
    assert.equal(new Set(ids).size, 3);
    const text = registry.render();
    assert.match(text, /controller_runtime_reconcile_total\{controller="test",result="success"\} 1/);
    assert.match(text, /controller_runtime_reconcile_total\{controller="test",result="error"\} 1/);
    assert.match(text, /controller_runtime_reconcile_total\{controller="test",result="requeue_after"\} 1/);
    assert.match(text, /controller_runtime_reconcile_errors_total\{controller="test"\} 1/);
    assert.match(text, /controller_runtime_reconcile_time_seconds_count\{controller="test"\} 3/);
    assert.match(text, /workqueue_adds_total\{name="test",controller="test"\} 3/);
    assert.match(text, /workqueue_depth\{name="test",controller="test"\} 0/);
    assert.match(text, /controller_runtime_max_concurrent_reconciles\{controller="test"\} 1/);
    await c.stop();
    await run;
  });
});
