/**
 * The JIT's tier-up policy on Bun. The operator's executable is built to start with JavaScriptCore's
 * tier-up thresholds scaled up (`bun build --compile-jit-policy`, see bench/lib/operator.ts): code
 * that runs once at start-up (configuration, the start-up check, logging set-up) stays in the
 * interpreter instead of being compiled, and a process with nothing to do never pays for the
 * optimising compilers' code and memory (about 5 MiB of an idle operator's resident memory,
 * bench/results/startup.md). {@link useFullJit} restores the normal thresholds once there is work
 * that runs hot (the operator's first DataFlow; the web console once it serves). Elsewhere (Deno,
 * Node, or a Bun executable built without the flag) it does nothing.
 */

/** The normal tier-up policy (Bun.unsafe.setJITPolicy's scale 1). */
const NORMAL = 1;

let restored = false;

/** Restores JavaScriptCore's normal tier-up thresholds, once (later calls do nothing); a no-op off Bun. */
export function useFullJit(): void {
  if (restored) return;
  restored = true;
  const bun = (globalThis as { Bun?: { unsafe?: { setJITPolicy?: (scale: number) => void } } }).Bun;
  bun?.unsafe?.setJITPolicy?.(NORMAL);
}
