/**
 * dataflow-operator: a Kubernetes operator toolkit for Deno and Bun, and the DataFlow operator
 * built on it.
 *
 * As a library it exports the API client (`lib/kube`), the controller runtime (`lib/runtime`),
 * the event recorder (`lib/events`) and logging/metrics (`lib/observe`). Run as the main module
 * (or as the compiled binary) it is the DataFlow operator's command line: see `--help`.
 *
 * @module
 */
import process from "node:process";
import { main } from "./lib/dataflow/cli.ts";

export * from "./lib/kube/mod.ts";
export * from "./lib/runtime/mod.ts";
export { EventRecorder } from "./lib/events/mod.ts";
export type {
  Budget,
  Clock as EventClock,
  CloseOptions,
  CloseResult,
  EventFields,
  EventRecorderOptions,
  EventSink,
  EventTarget,
  EventType,
  ObjectReferenceLike,
} from "./lib/events/mod.ts";
export * from "./lib/observe/mod.ts";
export { main };

if (import.meta.main) {
  // Deno.args is exact on Deno (also when compiled); elsewhere argv holds the runtime and script first.
  const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
  process.exitCode = await main(deno ? deno.args : process.argv.slice(2));
  process.exit();
}
