/**
 * Termination signals (SIGTERM from the kubelet, SIGINT from a terminal), the one place the
 * runtime touches process signals. `node:process` works the same on Deno, Bun and Node.
 */
import process from "node:process";

/** The signals that ask an operator to shut down. */
export type TerminationSignal = "SIGTERM" | "SIGINT";

/**
 * Calls `handler` with the signal's name and how many termination signals arrived so far
 * (1 on the first). Returns a function that removes the handlers.
 */
export function onTerminationSignals(
  handler: (signal: TerminationSignal, count: number) => void,
): () => void {
  let count = 0;
  const term = () => handler("SIGTERM", ++count);
  const int = () => handler("SIGINT", ++count);
  process.on("SIGTERM", term);
  process.on("SIGINT", int);
  return () => {
    process.off("SIGTERM", term);
    process.off("SIGINT", int);
  };
}

/** Ends the process at once with `code` (what a second termination signal does). */
export function exitProcess(code: number): void {
  process.exit(code);
}
