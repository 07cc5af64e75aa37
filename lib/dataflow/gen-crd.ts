/**
 * Writes deploy/crd.yaml from the zod schema. Run: `deno run -A lib/dataflow/gen-crd.ts`
 * (tests/unit/dataflow/crd-fresh.test.ts fails when the file is stale).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { crdYaml } from "./crd.ts";

/** The path of the generated CRD file. */
export const CRD_PATH = fileURLToPath(new URL("../../deploy/crd.yaml", import.meta.url));

if (import.meta.main) {
  writeFileSync(CRD_PATH, crdYaml());
  console.log(`wrote ${CRD_PATH}`);
}
