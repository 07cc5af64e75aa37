/**
 * A clock that moves only when told, for tests: timers fire in deadline order during
 * {@link FakeClock.advance}, with pending callbacks flushed between them.
 */
import { type Clock, sleepOn, type TimerHandle } from "./clock.ts";

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told. Timers fire in deadline order during {@link FakeClock.advance},
 * with pending callbacks flushed between them (promise chains, and a couple of real event-loop
 * ticks) so work started by one timer settles before the next fires.
 */
export class FakeClock implements Clock {
  #now: number;
  #wallOffset: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;

  /**
   * A clock standing at `start`, with no timers.
   * @param start the initial monotonic time
   * @param wallStart the initial wall time (ms since the epoch)
   */
  constructor(start = 0, wallStart: number = Date.UTC(2026, 0, 1)) {
    this.#now = start;
    this.#wallOffset = wallStart - start;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): Date {
    return new Date(this.#now + this.#wallOffset);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(t);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle || typeof handle !== "object" || !("id" in handle)) return;
    const id = (handle as { id: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of pending timers (tests assert there is no hot loop). */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** The deadline of the next timer, if any. */
  nextTimerAt(): number | undefined {
    return this.#timers.reduce<number | undefined>(
      (m, t) => (m === undefined || t.at < m ? t.at : m),
      undefined,
    );
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in deadline order. The timers
   * due at one instant fire as in one turn of a real event loop: promise chains settle between
   * them, host work (a Response body being read) once after them; a timer they set for that same
   * instant fires in the next turn. Time never goes back: a negative or NaN `ms` is a RangeError.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance: ms must be a number >= 0, got ${ms}`);
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const at = this.nextTimerAt();
      if (at === undefined || at > target) break;
      this.#now = Math.max(this.#now, at);
      const turn = this.#nextId;
      for (;;) {
        const due = this.#timers.filter((t) => t.at <= this.#now && t.id < turn)
          .sort((a, b) => a.at - b.at || a.id - b.id)[0];
        if (!due) break;
        this.#timers = this.#timers.filter((t) => t !== due);
        due.fn();
        await flushMicrotasks(20, 0);
      }
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /** Moves time forward without firing any timer, like an event loop that was blocked. */
  jump(ms: number): void {
    this.#now += ms;
  }

  /** Shifts wall time only (a skewed or stepped system clock); monotonic time is untouched. */
  skewWall(ms: number): void {
    this.#wallOffset += ms;
  }
}

/**
 * Lets pending callbacks run: promise chains, and (with `realTicks`) work the host schedules as
 * macrotasks, such as reading a Response body on Deno.
 */
export async function flushMicrotasks(rounds = 20, realTicks = 2): Promise<void> {
  for (let t = 0; t <= realTicks; t++) {
    for (let i = 0; i < rounds; i++) await Promise.resolve();
    if (t < realTicks) await new Promise((r) => setTimeout(r, 0));
  }
}
