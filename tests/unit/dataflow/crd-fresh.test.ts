/** deploy/crd.yaml is generated from the zod schema; this fails when someone forgot to regenerate it. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { crdYaml } from "../../../lib/dataflow/crd.ts";
import { CRD_PATH, MANIFESTS_MODULE_PATH, manifestsModule } from "../../../lib/dataflow/gen-crd.ts";

it("deploy/crd.yaml is what lib/dataflow/crd.ts generates", () => {
  const onDisk = readFileSync(CRD_PATH, "utf8");
  assert.ok(
    onDisk === crdYaml(),
    "deploy/crd.yaml is stale: run `deno run -A lib/dataflow/gen-crd.ts` and commit the result",
  );
});

it("manifests.generated.ts embeds the current deploy/rbac.yaml and deploy/operator.yaml", () => {
  assert.ok(
    readFileSync(MANIFESTS_MODULE_PATH, "utf8") === manifestsModule(),
    "lib/dataflow/manifests.generated.ts is stale: run `deno run -A lib/dataflow/gen-crd.ts` and commit the result",
  );
});
