/**
 * A group of runnables started together and stopped together, as controller-runtime's
 * `runnableGroup`: the manager keeps one per stage (servers, services, caches, leader-only),
 * starts the groups in that order and stops them in reverse.
 */
import { abortableDelay, type Clock } from "../time/clock.ts";
import type { Runnable } from "./runnable.ts";

/** When a runnable's error happened: while it ran, or in its graceful stop. */
export type RunnableErrorPhase = "run" | "stop";

/** Receives every error of a group's runnables (none is dropped). */
export type RunnableErrorHandler = (runnable: Runnable, error: unknown, phase: RunnableErrorPhase) => void;

/** Runnables started and stopped as one. */
export class RunnableGroup {
  /** The group's name for log lines ("caches", "leader-only"). */
  readonly name: string;
  #members: Runnable[] = [];
  #runs: Promise<void>[] = [];
  /** Started and not yet returned: only these are asked to stop. */
  #running = new Set<Runnable>();
  #abort = new AbortController();
  #state: "idle" | "started" | "stopping" = "idle";
  #onError: RunnableErrorHandler;
  #clock: Clock;

  /**
   * An idle group. `onError` is told of every failure; a start that rejects with its own abort
   * reason after the abort is an ordinary stop, not a failure.
   */
  constructor(name: string, options: { onError: RunnableErrorHandler; clock: Clock }) {
    this.name = name;
    this.#onError = options.onError;
    this.#clock = options.clock;
  }

  /** Adds a runnable; one added to a running group starts at once. Refused once the group stops. */
  add(runnable: Runnable): void {
    if (this.#state === "stopping") {
      throw new Error(`cannot add ${runnable.name}: the ${this.name} runnables are already stopping`);
    }
    this.#members.push(runnable);
    if (this.#state === "started") this.#launch(runnable);
  }

  /** Starts every runnable (once; later calls do nothing). Their start calls are not awaited. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "started";
    for (const r of this.#members) this.#launch(r);
  }

  /**
   * Graceful stop: calls the `stop` of every runnable still running at once (each gets
   * `timeoutMs`), then aborts their signal. Resolves true when every `stop` reported its work
   * finished in time. A `stop` that throws goes to the error handler and does not count as
   * unfinished; one that has not returned `overrunMs` after its deadline counts as unfinished and
   * is no longer waited for, so one stuck runnable cannot hold the shutdown forever.
   */
  async stop(timeoutMs: number, overrunMs = 1_000): Promise<boolean> {
    this.#state = "stopping";
    const cutOff = new AbortController();
    const overrun = abortableDelay(this.#clock, timeoutMs + overrunMs, cutOff.signal).then(() => false);
    const finished = await Promise.all(this.#members.map(async (r) => {
      if (!this.#running.has(r) || !r.stop) return true;
      const failed = (err: unknown) => {
        this.#onError(r, err, "stop");
        return true;
      };
      try {
        // A rejection is reported even when it comes after the overrun gave up on this stop.
        const stopped = Promise.resolve(r.stop({ timeoutMs })).then((result) => result !== false, failed);
        return await Promise.race([stopped, overrun]);
      } catch (err) {
        return failed(err); // `stop` threw instead of rejecting
      }
    }));
    cutOff.abort();
    this.abort(new Error(`${this.name} runnables stopped`));
    return finished.every(Boolean);
  }

  /** Stops every runnable at once (no draining) by aborting their signal with `reason`. */
  abort(reason: unknown): void {
    this.#state = "stopping";
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  /** Waits until every started runnable returned, or `ms` passed; resolves whether they all returned. */
  async settled(ms: number): Promise<boolean> {
    let done = false;
    const all = Promise.all(this.#runs).then(() => (done = true));
    const timer = new AbortController();
    await Promise.race([all, abortableDelay(this.#clock, ms, timer.signal)]);
    timer.abort();
    return done;
  }

  #launch(r: Runnable): void {
    const signal = this.#abort.signal;
    this.#running.add(r);
    const returned = (): void => {
      this.#running.delete(r);
    };
    this.#runs.push(
      Promise.resolve()
        .then(() => r.start(signal))
        .then(returned, (err) => {
          returned();
          if (signal.aborted && err === signal.reason) return;
          this.#onError(r, err, "run");
        }),
    );
  }
}
