/**
 * The DataFlow CustomResourceDefinition, generated from the zod schema: `z.toJSONSchema` gives a
 * JSON Schema, which is post-processed into the structural OpenAPI v3 subset the API server
 * accepts (no `$schema`, no `propertyNames`, no `additionalProperties: false`, int-or-string and
 * preserve-unknown-fields markers in their Kubernetes spelling, int32/int64 formats instead of
 * numeric bounds). The CEL rules attached by rules.ts ride along as `x-kubernetes-validations`.
 */
import { stringify } from "yaml";
import { z } from "zod";
import { DataFlowSpecSchema, DataFlowStatusSchema, GROUP, KIND, MAX_NAME_LENGTH, VERSION } from "./schema.ts";

/** The plural resource name. */
export const PLURAL = "dataflows";
/** The CRD's name. */
export const CRD_NAME = `${PLURAL}.${GROUP}`;

type Json = Record<string, unknown>;

const INT32 = [-2147483648, 2147483647];
const SAFE = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];

/** Rewrites one JSON Schema node (and its children) into structural OpenAPI v3. */
export function toStructural(node: Json): Json {
  const out: Json = { ...node };
  delete out.$schema;
  delete out.propertyNames;
  if (out["x-kubernetes-int-or-string"]) {
    // zod renders the union as anyOf[integer, string]; Kubernetes wants exactly this spelling.
    const str = (node.anyOf as Json[] | undefined)?.find((a) => a.type === "string");
    return {
      anyOf: [{ type: "integer" }, { type: "string" }],
      ...(str?.pattern ? { pattern: str.pattern } : {}),
      ...(str?.maxLength ? { maxLength: str.maxLength } : {}),
      "x-kubernetes-int-or-string": true,
      ...(node.description ? { description: node.description } : {}),
    };
  }
  if (out["x-kubernetes-preserve-unknown-fields"]) {
    return {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
      ...(node.maxProperties !== undefined ? { maxProperties: node.maxProperties } : {}),
      ...(node.description ? { description: node.description } : {}),
    };
  }
  if (out.additionalProperties === false) delete out.additionalProperties;
  if (out.type === "integer") {
    const [min, max] = [out.minimum, out.maximum];
    if (min === INT32[0] && max === INT32[1]) {
      out.format = "int32";
      delete out.minimum;
      delete out.maximum;
    } else if ((min === SAFE[0] || min === 0) && max === SAFE[1]) {
      out.format = "int64";
      delete out.maximum;
      if (min === SAFE[0]) delete out.minimum;
    }
  }
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties as Record<string, Json>).map(([k, v]) => [k, toStructural(v)]),
    );
  }
  if (out.items && typeof out.items === "object") out.items = toStructural(out.items as Json);
  if (out.additionalProperties && typeof out.additionalProperties === "object") {
    out.additionalProperties = toStructural(out.additionalProperties as Json);
  }
  if (out.anyOf || out.oneOf || out.allOf || out.$ref) {
    throw new Error(`schema node is not structural: ${JSON.stringify(node).slice(0, 200)}`);
  }
  return out;
}

/** The structural schema of a zod schema. */
export function structuralSchema(schema: z.ZodType): Json {
  return toStructural(z.toJSONSchema(schema, { io: "input", unrepresentable: "throw" }) as Json);
}

/** The openAPIV3Schema of the DataFlow kind. */
export function dataflowOpenApiSchema(): Json {
  return {
    type: "object",
    description: "DataFlow moves records from a source through transformations to a sink.",
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: structuralSchema(DataFlowSpecSchema),
      status: {
        ...structuralSchema(DataFlowStatusSchema),
        properties: {
          ...(structuralSchema(DataFlowStatusSchema).properties as Json),
          conditions: {
            ...((structuralSchema(DataFlowStatusSchema).properties as Record<string, Json>).conditions),
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
          },
        },
      },
    },
    required: ["spec"],
    "x-kubernetes-validations": [{
      rule: `size(self.metadata.name) <= ${MAX_NAME_LENGTH}`,
      message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters: it is used as a label value`,
    }],
  };
}

/** The CustomResourceDefinition object for `dataflows.dataflow.dataflow.io`. */
export function crdManifest(): Json {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: "dataflow",
        shortNames: ["df"],
      },
      scope: "Namespaced",
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: "Phase", type: "string", jsonPath: ".status.phase" },
          { name: "Source", type: "string", jsonPath: ".spec.source.type" },
          { name: "Sink", type: "string", jsonPath: ".spec.sink.type" },
          { name: "Message", type: "string", jsonPath: ".status.message", priority: 1 },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
        ],
        schema: { openAPIV3Schema: dataflowOpenApiSchema() },
      }],
    },
  };
}

/** The header of the generated file. */
export const CRD_HEADER =
  `# Generated from lib/dataflow/schema.ts by lib/dataflow/gen-crd.ts; do not edit.\n` +
  `# Regenerate: deno run -A lib/dataflow/gen-crd.ts  (a unit test fails when this file is stale)\n`;

/** deploy/crd.yaml's exact content. */
export function crdYaml(): string {
  return CRD_HEADER + stringify(crdManifest(), { lineWidth: 0 });
}
