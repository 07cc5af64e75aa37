/**
 * The executable's command line, above both applications: `console` starts the web console,
 * every other command is the DataFlow operator's (lib/dataflow/cli.ts). `mod.ts` loads this only
 * when run as the main module, and this loads the console only when asked for, so neither
 * application imports the other's entry point.
 */
import { type CliIo, defaultIo, main as operatorMain } from "../dataflow/cli.ts";
import { guardStdio } from "../dataflow/stdio.ts";

/** Runs one command line; resolves with the process's exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  if (argv[0] !== "console") return await operatorMain(argv, io);
  if (io === defaultIo) guardStdio();
  const { stdout, stderr, env, handleSignals } = io;
  const { consoleMain } = await import("../console/main.ts");
  return await consoleMain(argv.slice(1), { stdout, stderr, env, handleSignals });
}
