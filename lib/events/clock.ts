/** The real clock, with unref'd timers so that an idle recorder never keeps a process alive. */
import type { Clock } from "./types.ts";

/** Lets a timer handle stop holding the process open, on Deno, Bun and Node. */
function unref(handle: unknown): void {
  if (typeof handle === "object" && handle !== null && "unref" in handle) {
    (handle as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof handle === "number" && deno?.unrefTimer) deno.unrefTimer(handle);
}

/** Wall-clock time and unref'd timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    unref(handle);
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
