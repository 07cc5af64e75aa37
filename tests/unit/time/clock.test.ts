/**
 * The clock module: the fake clock (timer order, advance, jump, wall skew), sleep and deadline
 * signals on any clock, and the background clock whose timers do not keep a process alive.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  abortableDelay,
  backgroundClock,
  deadlineSignal,
  realClock,
  sleepOn,
  unrefTimer,
} from "../../../lib/time/clock.ts";
import { FakeClock, flushMicrotasks } from "../../../lib/time/fake-clock.ts";

describe("FakeClock", () => {
  it("starts at the given monotonic and wall times; wall time moves with monotonic time", async () => {
    const clock = new FakeClock(500, Date.UTC(2030, 5, 1));
    assert.equal(clock.now(), 500);
    assert.equal(clock.wallNow().toISOString(), "2030-06-01T00:00:00.000Z");
    await clock.advance(1_500);
    assert.equal(clock.now(), 2_000);
    assert.equal(clock.wallNow().toISOString(), "2030-06-01T00:00:01.500Z");
  });

  it("fires timers in deadline order, equal deadlines in the order they were set, each at its own time", async () => {
    const clock = new FakeClock();
    const fired: [string, number][] = [];
    const at = (name: string, ms: number) => clock.setTimeout(() => fired.push([name, clock.now()]), ms);
    at("c", 300);
    at("a", 100);
    at("b1", 200);
    at("b2", 200);
    at("late", 1_000);
    assert.equal(clock.pendingTimers, 5);
    assert.equal(clock.nextTimerAt(), 100);
    await clock.advance(500);
    assert.deepEqual(fired, [["a", 100], ["b1", 200], ["b2", 200], ["c", 300]]);
    assert.equal(clock.now(), 500);
    assert.equal(clock.pendingTimers, 1);
    assert.equal(clock.nextTimerAt(), 1_000);
  });

  it("fires a timer set by another timer's callback when it falls due within the same advance", async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 50);
      clock.setTimeout(() => fired.push(clock.now()), 500);
    }, 100);
    await clock.advance(200);
    assert.deepEqual(fired, [100, 150]);
    await clock.advance(400);
    assert.deepEqual(fired, [100, 150, 600]);
  });

  it("lets promise chains started by a timer settle before the next timer fires", async () => {
    const clock = new FakeClock();
    const order: string[] = [];
    clock.setTimeout(() => {
      Promise.resolve().then(() => Promise.resolve()).then(() => order.push("chain of the first"));
    }, 10);
    clock.setTimeout(() => order.push("second timer"), 20);
    await clock.advance(20);
    assert.deepEqual(order, ["chain of the first", "second timer"]);
  });

  it("clearTimeout cancels; unknown, foreign and undefined handles are ignored", async () => {
    const clock = new FakeClock();
    let fired = 0;
    const t = clock.setTimeout(() => fired++, 10);
    clock.setTimeout(() => fired++, 20);
    clock.clearTimeout(t);
    clock.clearTimeout(t);
    clock.clearTimeout(undefined);
    clock.clearTimeout({ id: 999 });
    clock.clearTimeout(setTimeout(() => {}, 0));
    await clock.advance(100);
    assert.equal(fired, 1);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(clock.nextTimerAt(), undefined);
  });

  it("a negative delay fires at the current time", async () => {
    const clock = new FakeClock(1_000);
    let at = -1;
    clock.setTimeout(() => (at = clock.now()), -50);
    assert.equal(clock.nextTimerAt(), 1_000);
    await clock.advance(0);
    assert.equal(at, 1_000);
  });

  it("advance refuses to move time back (a negative or NaN step is a RangeError) and leaves time as it was", async () => {
    const clock = new FakeClock();
    await clock.advance(10);
    await assert.rejects(clock.advance(-1), RangeError);
    await assert.rejects(clock.advance(NaN), RangeError);
    assert.equal(clock.now(), 10);
  });

  it("jump moves time without firing timers (a blocked event loop); the next advance fires them late", async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 100);
    clock.jump(250);
    assert.equal(clock.now(), 250);
    assert.deepEqual(fired, []);
    await clock.advance(0);
    assert.deepEqual(fired, [250]);
  });

  it("skewWall shifts wall time only: monotonic time and timers are untouched", async () => {
    const clock = new FakeClock(0, Date.UTC(2026, 0, 1));
    let fired = false;
    clock.setTimeout(() => (fired = true), 1_000);
    clock.skewWall(-3_600_000);
    assert.equal(clock.now(), 0);
    assert.equal(clock.wallNow().toISOString(), "2025-12-31T23:00:00.000Z");
    await clock.advance(999);
    assert.equal(fired, false);
    await clock.advance(1);
    assert.equal(fired, true);
    assert.equal(clock.wallNow().toISOString(), "2025-12-31T23:00:01.000Z");
  });
});

describe("sleep", () => {
  it("resolves after its delay on the clock it is given", async () => {
    const clock = new FakeClock();
    let done = false;
    const p = clock.sleep(1_000).then(() => (done = true));
    await clock.advance(999);
    assert.equal(done, false);
    await clock.advance(1);
    await p;
    assert.equal(done, true);
  });

  it("rejects with the signal's reason when aborted first, and clears its timer", async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const p = sleepOn(clock, 1_000, ac.signal);
    assert.equal(clock.pendingTimers, 1);
    const reason = new Error("stopped");
    ac.abort(reason);
    await assert.rejects(p, (err) => err === reason);
    assert.equal(clock.pendingTimers, 0);
  });

  it("rejects at once, without a timer, on a signal that is already aborted", async () => {
    const clock = new FakeClock();
    const reason = new Error("already");
    await assert.rejects(sleepOn(clock, 1_000, AbortSignal.abort(reason)), (err) => err === reason);
    assert.equal(clock.pendingTimers, 0);
  });

  it("abortableDelay resolves (never rejects) when the signal aborts", async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    let settled = "";
    abortableDelay(clock, 60_000, ac.signal).then(() => (settled = "resolved"), () => (settled = "rejected"));
    ac.abort(new Error("x"));
    await flushMicrotasks();
    assert.equal(settled, "resolved");
    assert.equal(clock.now(), 0);
  });

  it("on the real clock, a short sleep resolves and now() does not go backwards", async () => {
    const before = realClock.now();
    await realClock.sleep(1);
    assert.ok(realClock.now() >= before);
    assert.ok(realClock.wallNow() instanceof Date);
  });
});

describe("deadlineSignal", () => {
  it("aborts with a TimeoutError when its time passes on a fake clock", async () => {
    const clock = new FakeClock();
    const d = deadlineSignal(clock, 5_000);
    await clock.advance(4_999);
    assert.equal(d.signal.aborted, false);
    await clock.advance(1);
    assert.equal(d.signal.aborted, true);
    const reason = d.signal.reason as DOMException;
    assert.equal(reason.name, "TimeoutError");
    assert.match(reason.message, /deadline of 5000 ms passed/);
    d.dispose();
  });

  it("aborts with the parent's reason when the parent aborts first, or at once when it already has", () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const d = deadlineSignal(clock, 5_000, parent.signal);
    const reason = new Error("shutdown");
    parent.abort(reason);
    assert.equal(d.signal.aborted, true);
    assert.equal(d.signal.reason, reason);
    d.dispose();
    const early = deadlineSignal(clock, 5_000, AbortSignal.abort(reason));
    assert.equal(early.signal.reason, reason);
    early.dispose();
  });

  it("dispose clears the timer and lets go of the parent", async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const d = deadlineSignal(clock, 5_000, parent.signal);
    assert.equal(clock.pendingTimers, 1);
    d.dispose();
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(10_000);
    parent.abort();
    assert.equal(d.signal.aborted, false, "neither the deadline nor the parent aborts it after dispose");
  });
});

describe("the real clock's long timers", () => {
  const MAX_HOST_DELAY_MS = 2 ** 31 - 1;

  /** Replaces the host's setTimeout and clearTimeout with a list the test runs by hand. */
  function stubHostTimers() {
    const g = globalThis as unknown as Record<"setTimeout" | "clearTimeout", unknown>;
    const saved = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout };
    const pending = new Map<number, { fn: () => void; ms: number }>();
    let nextId = 1;
    g.setTimeout = (fn: () => void, ms: number) => {
      pending.set(nextId, { fn, ms });
      return nextId++;
    };
    g.clearTimeout = (id: number) => pending.delete(id);
    return {
      delays: () => [...pending.values()].map((t) => t.ms),
      runNext() {
        const [id, t] = [...pending][0];
        pending.delete(id);
        t.fn();
      },
      restore: () => Object.assign(g, saved),
    };
  }

  it("waits out a delay longer than one host timer holds in parts, and fires once all of it passed", () => {
    const host = stubHostTimers();
    try {
      let fired = 0;
      realClock.setTimeout(() => fired++, 2 * MAX_HOST_DELAY_MS + 5);
      assert.deepEqual(host.delays(), [MAX_HOST_DELAY_MS]);
      host.runNext();
      assert.deepEqual(host.delays(), [MAX_HOST_DELAY_MS]);
      host.runNext();
      assert.deepEqual(host.delays(), [5]);
      assert.equal(fired, 0);
      host.runNext();
      assert.equal(fired, 1);
      assert.deepEqual(host.delays(), []);
    } finally {
      host.restore();
    }
  });

  it("never fires an infinite delay, and clearTimeout cancels whichever part is pending", () => {
    const host = stubHostTimers();
    try {
      let fired = 0;
      const h = realClock.setTimeout(() => fired++, Infinity);
      for (let i = 0; i < 3; i++) host.runNext();
      assert.deepEqual(host.delays(), [MAX_HOST_DELAY_MS]);
      realClock.clearTimeout(h);
      assert.deepEqual(host.delays(), []);
      assert.equal(fired, 0);
    } finally {
      host.restore();
    }
  });

  it("on the host's own timers, a delay past 2^31 - 1 ms does not fire at once (as a bare host timer would)", async () => {
    for (const clock of [realClock, backgroundClock]) {
      let fired = 0;
      const long = clock.setTimeout(() => fired++, 2 ** 31);
      const never = clock.setTimeout(() => fired++, Infinity);
      // An overflowing host timer fires after 1 ms, so before a 1 ms host timer armed after it
      // (equal delays fire in the order they were armed): that one firing is the positive signal.
      await new Promise((r) => setTimeout(r, 1));
      assert.equal(fired, 0);
      clock.clearTimeout(long);
      clock.clearTimeout(never);
    }
  });
});

describe("process lifetime", () => {
  it(
    "a pending one-hour timer on the background clock does not keep a process alive",
    { timeout: 120_000 },
    async () => {
      const fixture = fileURLToPath(new URL("./background_timer_fixture.ts", import.meta.url));
      const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
      const child = spawn(process.execPath, isDeno ? ["run", "-A", fixture] : [fixture], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "", err = "";
      child.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
      child.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
      // A deadline for a failing run only: a child still alive after it was held open by the timer.
      const guard = setTimeout(() => child.kill("SIGKILL"), 100_000);
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      clearTimeout(guard);
      assert.equal(code, 0, `the child did not exit by itself (code ${code}): ${err}`);
      assert.deepEqual(out.trim().split("\n"), ["armed", "real timer fired"]);
    },
  );

  it("unrefTimer accepts host timer handles and ignores anything else", () => {
    const t = setTimeout(() => {}, 60_000);
    unrefTimer(t);
    clearTimeout(t);
    unrefTimer(undefined);
    unrefTimer({ id: 1 });
    const h = backgroundClock.setTimeout(() => {}, 60_000);
    backgroundClock.clearTimeout(h);
  });
});
