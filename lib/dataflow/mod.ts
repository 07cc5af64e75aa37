/**
 * The DataFlow operator (`dataflow.dataflow.io/v1`): the API as one zod schema (types, CRD,
 * reconcile-time check), the owned-object builders, secret-reference resolution, status, the
 * reconciler, the controller wiring and the CLI. See README.md for the processor contract.
 */
export * from "./builders.ts";
export { main, processorSettingsFromEnv, USAGE, VERSION } from "./cli.ts";
export type { CliIo } from "./cli.ts";
export * from "./controller.ts";
export * from "./crd.ts";
export * from "./diff.ts";
export * from "./metrics.ts";
export * from "./names.ts";
export * from "./owned.ts";
export * from "./policy.ts";
export * from "./quantity.ts";
export * from "./reconciler.ts";
export * from "./render-spec.ts";
export * from "./rules.ts";
export * from "./schema.ts";
export * from "./secrets.ts";
export * from "./status.ts";
