/**
 * The keys of a work queue that wait on a deadline (a retry's backoff, a requeue-after): one heap
 * ordered by deadline and one timer armed for the earliest, as client-go's delaying queue and
 * kube-rs's scheduler keep them. One timer per key would cost a timer cancel per plain add of a
 * waiting key and leave thousands of host timers pending after a relist.
 */
import { type HeapEntry, IndexedHeap } from "../collections/indexed-heap.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";

interface Delayed extends HeapEntry {
  key: string;
  at: number;
  priority: number;
  seq: number;
}

/** The longest delay a host timer takes; a later deadline is reached by re-arming. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function before(a: Delayed, b: Delayed): boolean {
  return a.at !== b.at ? a.at < b.at : a.seq < b.seq;
}

/** Keys waiting for a deadline on `clock`; `due` receives each one when its deadline passes. */
export class DelayedKeys {
  readonly #heap = new IndexedHeap<Delayed>(before);
  readonly #byKey = new Map<string, Delayed>();
  readonly #clock: Clock;
  readonly #due: (key: string, priority: number) => void;
  #timer?: TimerHandle;
  #timerAt = Infinity;
  #seq = 0;

  /** @param due called for each key whose deadline passed, in deadline order */
  constructor(clock: Clock, due: (key: string, priority: number) => void) {
    this.#clock = clock;
    this.#due = due;
  }

  /** Keys waiting. */
  get size(): number {
    return this.#heap.size;
  }

  /** Comparisons the heap made so far (its cost, for tests and benchmarks). */
  get comparisons(): number {
    return this.#heap.comparisons;
  }

  /**
   * Makes `key` due at `at` (monotonic ms). A key already waiting keeps the earlier deadline, so a
   * later call never postpones it, and the higher of the two priorities.
   */
  schedule(key: string, at: number, priority: number): void {
    const entry = this.#byKey.get(key);
    if (!entry) {
      const fresh: Delayed = { key, at, priority, seq: this.#seq++, heapIndex: -1 };
      this.#byKey.set(key, fresh);
      this.#heap.push(fresh);
    } else {
      entry.priority = Math.max(entry.priority, priority);
      if (at >= entry.at) return;
      entry.at = at;
      this.#heap.fix(entry);
    }
    this.#arm();
  }

  /** Stops `key` waiting; false when it was not. */
  cancel(key: string): boolean {
    const entry = this.#byKey.get(key);
    if (!entry) return false;
    this.#byKey.delete(key);
    this.#heap.remove(entry);
    // The timer stays armed for a removed head: when it fires it re-arms for the next deadline.
    if (this.#heap.size === 0) this.#disarm();
    return true;
  }

  /** Drops every waiting key and the timer. */
  clear(): void {
    this.#heap.clear();
    this.#byKey.clear();
    this.#disarm();
  }

  #arm(): void {
    const head = this.#heap.peek();
    if (!head || head.at >= this.#timerAt) return;
    this.#disarm();
    this.#timerAt = head.at;
    // Rounded up, so a host timer does not fire a fraction early and find nothing due; capped,
    // because host timers overflow past 2^31 - 1 ms (about 24.8 days) and would fire at once.
    const delay = Math.min(MAX_TIMER_MS, Math.ceil(head.at - this.#clock.now()));
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delay);
  }

  #disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    for (let head = this.#heap.peek(); head && head.at <= now; head = this.#heap.peek()) {
      this.#heap.pop();
      this.#byKey.delete(head.key);
      this.#due(head.key, head.priority);
    }
    this.#arm();
  }
}
