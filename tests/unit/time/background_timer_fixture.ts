/**
 * Run as a child process by clock.test.ts: arms a one-hour timer on the background clock and a
 * short one on the real clock, then ends its main module. The process must exit right after the
 * short timer fires: the background timer does not hold it open.
 */
import { backgroundClock, realClock } from "../../../lib/time/clock.ts";

backgroundClock.setTimeout(() => console.log("background timer fired"), 3_600_000);
realClock.setTimeout(() => console.log("real timer fired"), 20);
console.log("armed");
