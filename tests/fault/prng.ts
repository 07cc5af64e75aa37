/**
 * A small seeded PRNG (mulberry32) so that the generated specs, the churn and the fault shares of
 * a failing run can be replayed: every test prints its seed, and FAULT_SEED=<seed> repeats it.
 */
import process from "node:process";

/** The run's seed: FAULT_SEED when set, else derived from the clock (and printed by the tests). */
export function suiteSeed(): number {
  const fromEnv = process.env.FAULT_SEED?.trim();
  if (fromEnv) {
    const n = Number(fromEnv);
    if (!Number.isSafeInteger(n)) throw new Error(`FAULT_SEED must be an integer, got ${fromEnv}`);
    return n >>> 0;
  }
  return (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
}

/** A deterministic random source. */
export class Prng {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1) (bound, so it can be handed out as a `() => number`). */
  next = (): number => {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  /** An independent stream derived from this seed (so adding draws in one place shifts no other). */
  fork(label: string): Prng {
    let h = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Prng(h >>> 0);
  }
}
