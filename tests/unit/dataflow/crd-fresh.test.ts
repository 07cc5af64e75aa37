/** deploy/crd.yaml is generated from the zod schema; this fails when someone forgot to regenerate it. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { crdYaml } from "../../../lib/dataflow/crd.ts";
import { CRD_PATH } from "../../../lib/dataflow/gen-crd.ts";

it("deploy/crd.yaml is what lib/dataflow/crd.ts generates", () => {
  const onDisk = readFileSync(CRD_PATH, "utf8");
  assert.ok(
    onDisk === crdYaml(),
    "deploy/crd.yaml is stale: run `deno run -A lib/dataflow/gen-crd.ts` and commit the result",
  );
});
