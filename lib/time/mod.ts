/**
 * Time for the toolkit: clocks (monotonic and wall), timers that may or may not keep the process
 * alive, sleep, deadline signals, exponential backoff with reset-after, a token bucket, jitter.
 * A fake clock for tests is in `fake-clock.ts`.
 * @module
 */
export {
  abortableDelay,
  backgroundClock,
  type Clock,
  deadlineSignal,
  realClock,
  sleepOn,
  type TimerHandle,
  unrefTimer,
} from "./clock.ts";
export { Backoff, type BackoffOptions, exponentialDelay, jitter } from "./backoff.ts";
export { type Budget, TokenBucket } from "./token-bucket.ts";
export { FakeClock, flushMicrotasks } from "./fake-clock.ts";
