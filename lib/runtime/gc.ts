/**
 * Full garbage collections when the process has grown, at the moments an operator knows much
 * garbage has just died: a large list was cached (its response text, managedFields, the parts a
 * transform dropped), and while and after reconciles run. Bun's collector otherwise keeps the
 * memory of that garbage for about ten seconds (its young collections free the objects but keep
 * their memory), and that is where an operator's resident memory peaked (bench/README.md,
 * "Memory"). A collection costs time in proportion to what is alive, so one runs only after the
 * resident memory grew by a tenth plus 16 MiB since the last one: a few per burst, and a
 * number independent of the cache's size. Bun exposes `Bun.gc`; V8 (Deno) only with
 * `--expose-gc`, and without it this does nothing.
 */
import process from "node:process";

/** Growth of the resident memory since the last collection that makes the next one worth its pause. */
const GROWTH = 0.1;
/** ... and at least this many bytes. */
const MIN_GROWTH = 16 * 1024 * 1024;

type Collect = () => void;

function collector(): Collect | undefined {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) return () => g.Bun!.gc(true);
  return g.gc;
}

const collect = collector();
/** Resident memory right after the last collection (0 before the first). */
let rssAfterLast = 0;

/**
 * Runs a full, synchronous collection when the resident memory grew enough since the last one;
 * cheap otherwise (one read of the process's memory figures). Returns whether it collected.
 */
export function collectIfGrown(): boolean {
  if (!collect) return false;
  if (process.memoryUsage.rss() < rssAfterLast * (1 + GROWTH) + MIN_GROWTH) return false;
  collect();
  rssAfterLast = process.memoryUsage.rss();
  return true;
}
