/**
 * The one way tests wait: poll a probe until it yields a value, with a deadline that fails loudly
 * (what was awaited, the probe's last error, and whatever `describe` adds). Tests wait for a
 * condition, never for a fixed time; a "nothing happened" check first waits here for a positive
 * signal that the work ran, then asserts the absence.
 */

/** How {@link waitFor} polls. */
export interface WaitOptions {
  /** Give up after this long (default 30 s: CI machines are shared and slow at times). */
  timeoutMs?: number;
  /** Pause between probes (default 100 ms). */
  intervalMs?: number;
  /** Extra context for the timeout error (a log tail, the object's state). */
  describe?: () => string | Promise<string>;
  /** Checked before each probe: a message here fails the wait at once (the process under test exited). */
  abortIf?: () => string | undefined | Promise<string | undefined>;
}

/**
 * Calls `probe` until it returns something other than `undefined`, `null` or `false`, and returns
 * that; a probe that throws counts as "not yet" (its last error is reported on timeout).
 * @param options the options, or just the timeout in milliseconds
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions | number = {},
): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 100, describe, abortIf } = typeof options === "number"
    ? { timeoutMs: options }
    : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const abort = await abortIf?.();
    if (abort) throw new Error(`${abort} while waiting for ${what}`);
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const extra = describe ? await describe() : "";
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}` +
      (last ? ` (last error: ${(last as Error).message ?? last})` : "") + (extra ? `\n${extra}` : ""),
  );
}
