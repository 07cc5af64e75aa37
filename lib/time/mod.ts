/**
 * Time for the toolkit: clocks (monotonic and wall), timers that may or may not keep the process
 * alive, sleep, deadline signals, exponential backoff with reset-after, a token bucket, jitter.
 * The fake clock for tests is not here: it is in the `./testing` entry point.
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
