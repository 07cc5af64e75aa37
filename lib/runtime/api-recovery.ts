/**
 * Retrying the keys that failed because of the API (unreachable, 5xx, 429, 401, 403) as soon as
 * it answers again, instead of at their own backoff, which may have grown to minutes. A success
 * of any key shows the API answers (a recovery sweep); while nothing else runs, one failed key in
 * turn is retried every {@link RECOVERY_SWEEP_MS} as a canary, so a fixed permission or a returning
 * server is noticed within seconds for one request per period, not one per key.
 */
import type { Logger } from "../observe/log.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";
import type { WorkQueue } from "./queue.ts";
import { failedOnApi } from "./reconciler.ts";

/** The least time between two recovery sweeps, and the canary's period. */
export const RECOVERY_SWEEP_MS = 2_000;

/** The keys of one controller that wait on the API's recovery. */
export class ApiRecovery {
  readonly #clock: Clock;
  readonly #queue: WorkQueue;
  /** Keys whose last failure came from the API's state, not their own; the canary takes them in turn. */
  readonly #failed = new Set<string>();
  /** Keys retried by a sweep and not yet run again: a second failure waits for its backoff. */
  readonly #swept = new Set<string>();
  #lastSweep = -Infinity;
  #canary?: TimerHandle;

  constructor(clock: Clock, queue: WorkQueue) {
    this.#clock = clock;
    this.#queue = queue;
  }

  /**
   * A reconcile of `key` succeeded, so the API answers and the error class that held other keys
   * back may have cleared (the server is back, a permission was granted): queue them now. At
   * most every {@link RECOVERY_SWEEP_MS}.
   */
  succeeded(key: string, log: Logger): void {
    this.#failed.delete(key);
    this.#swept.delete(key);
    if (!this.#failed.size || this.#clock.now() - this.#lastSweep < RECOVERY_SWEEP_MS) return;
    this.#lastSweep = this.#clock.now();
    const keys = [...this.#failed];
    this.#failed.clear();
    log.info("the API answers again; retrying {count} key(s) that failed on it now, not at their backoff", {
      count: keys.length,
    });
    for (const k of keys) {
      this.#swept.add(k);
      this.#queue.add(k);
    }
  }

  /** A reconcile of `key` failed with `err` and was requeued with backoff. */
  failed(key: string, err: unknown): void {
    this.#failed.delete(key);
    // A key that fails again right after a sweep retried it waits for its own backoff.
    if (!failedOnApi(err) || this.#swept.delete(key)) return;
    this.#failed.add(key); // re-added last: the canary takes turns
    this.#armCanary();
  }

  /** Cancels the canary (the controller stops). */
  stop(): void {
    this.#clock.clearTimeout(this.#canary);
    this.#canary = undefined;
  }

  #armCanary(): void {
    if (this.#canary !== undefined || !this.#failed.size || this.#queue.shuttingDown) return;
    this.#canary = this.#clock.setTimeout(() => {
      this.#canary = undefined;
      const [key] = this.#failed;
      if (key === undefined || this.#queue.shuttingDown) return;
      this.#failed.delete(key); // its outcome decides: success sweeps, failure re-adds it
      this.#queue.add(key);
    }, RECOVERY_SWEEP_MS);
  }
}
