/**
 * The size limits of the DataFlow API: every string, list and map of the CRD is bounded, the
 * largest spec the CRD admits (built from the generated schema, tests/unit/dataflow/worst-case.ts)
 * fits the ConfigMap the operator writes, the reconcile-time check reports each limit in the API
 * server's words, and the size check names the fields of a spec that still does not fit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SPEC_KEY, specJson } from "../../../lib/dataflow/builders.ts";
import { checkSpec, type DataFlowSpec } from "../../../lib/dataflow/schema.ts";
import { checkSpecSize, CONFIGMAP_DATA_LIMIT, LIMITS } from "../../../lib/dataflow/limits.ts";
import { unbounded, worstCaseSpec } from "./worst-case.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
const bytes = (s: string) => new TextEncoder().encode(s).length;
const kafkaSink = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "out" } };
const kafkaSource = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "in" } };
const base = { source: kafkaSource, sink: kafkaSink };

function problems(spec: unknown): string[] {
  const r = checkSpec(spec);
  return r.ok ? [] : r.problems;
}

/** spec.json of an admissible spec, as the operator writes it. */
function written(spec: unknown): string {
  const r = checkSpec(spec);
  assert.ok(r.ok, `not admissible: ${!r.ok && r.problems.slice(0, 5).join("\n")}`);
  return specJson(r.spec);
}

describe("the DataFlow size limits", () => {
  it("bound every string, list and map of the CRD (affinity: its keys)", () => {
    assert.deepEqual(unbounded(), []);
  });

  it("let the largest admissible spec fit its ConfigMap with room to spare", () => {
    const spec = worstCaseSpec() as Any;
    // It is as large as the limits allow where it weighs most.
    assert.equal(spec.source.type, "kafka");
    assert.equal(spec.source.kafka.avroSchema.length, LIMITS.avroSchema);
    assert.equal(spec.transformations.length, LIMITS.transformations);
    assert.equal(spec.transformations[0].router.routes.length, LIMITS.routes);
    assert.equal(spec.transformations[0].router.routes[0].sink.type, "trino");
    assert.equal(spec.nodeSelector && Object.keys(spec.nodeSelector).length, LIMITS.nodeSelector);

    const json = written(spec);
    const size = bytes(SPEC_KEY) + bytes(json);
    console.log(
      `largest admissible spec.json: ${bytes(json)} bytes (ConfigMap limit ${CONFIGMAP_DATA_LIMIT})`,
    );
    assert.ok(size <= CONFIGMAP_DATA_LIMIT, `${size} bytes do not fit`);
    // Room for a field added later without revisiting every limit.
    assert.ok(size <= 0.9 * CONFIGMAP_DATA_LIMIT, `${size} bytes: less than 10% to spare`);
    assert.equal(checkSpecSize(json, "dataflow-worst-spec"), undefined);
  });

  it("spend the chain totals where they weigh most", () => {
    const worst = worstCaseSpec() as Any;
    const size = (s: unknown) => bytes(written(s));
    const [router, mask, rest] = worst.transformations;
    const t = worst.transformations.length;
    const route = router.router.routes[0];
    const alternatives: Record<string, Any[]> = {
      // The conditions in filters instead of routes.
      "filters": [
        {
          type: "router",
          router: { routes: router.router.routes.map((r: Any) => ({ ...r, condition: "c" })) },
        },
        mask,
        ...Array.from({ length: LIMITS.routes - 1 }, () => ({
          type: "filter",
          filter: { condition: "c".repeat(LIMITS.condition) },
        })),
        ...Array.from({ length: t - LIMITS.routes - 1 }, () => rest),
      ],
      // One route per router.
      "routers": [
        ...Array.from({ length: LIMITS.routes }, () => ({ type: "router", router: { routes: [route] } })),
        mask,
        ...Array.from({ length: t - LIMITS.routes - 1 }, () => rest),
      ],
      // Field names spread over many masks.
      "masks": [
        router,
        ...Array.from({ length: t - 1 }, (_, i) => ({
          ...mask,
          mask: { ...mask.mask, fields: mask.mask.fields.slice(0, i < 4 ? LIMITS.fields / 4 : 0) },
        })).filter((m) => m.mask.fields.length > 0),
        ...Array.from({ length: t - 5 }, () => rest),
      ],
    };
    for (const [name, transformations] of Object.entries(alternatives)) {
      assert.equal(transformations.length, t, name);
      assert.ok(size({ ...worst, transformations }) <= size(worst), `${name} is larger than the worst case`);
    }
  });

  it("report each limit as the API server does", () => {
    assert.deepEqual(
      problems({
        ...base,
        source: { type: "kafka", kafka: { ...kafkaSource.kafka, avroSchema: "x".repeat(262_145) } },
      }),
      ["spec.source.kafka.avroSchema: Too long: may not be more than 262144 bytes"],
    );
    assert.deepEqual(problems({ ...base, tolerations: Array.from({ length: 33 }, () => ({ key: "k" })) }), [
      "spec.tolerations: Too many: 33: must have at most 32 items",
    ]);
    assert.deepEqual(
      problems({
        ...base,
        nodeSelector: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])),
      }),
      ["spec.nodeSelector: Too many: 65: must have at most 64 items"],
    );
    assert.deepEqual(problems({ ...base, nodeSelector: { ["k".repeat(318)]: "v" } }), [
      "spec.nodeSelector: keys may not be more than 317 characters",
    ]);
    assert.deepEqual(problems({ ...base, affinity: { a: {}, b: {}, c: {}, d: {} } }), [
      "spec.affinity: Too many: 4: must have at most 3 items",
    ]);
    assert.deepEqual(problems({ ...base, resources: { limits: { cpu: "1".repeat(65) } } }), [
      "spec.resources.limits.cpu: Too long: may not be more than 64 bytes",
    ]);
  });

  it("count characters as the API server does (code points, not UTF-16 units)", () => {
    const topic = (s: string) => ({
      ...base,
      source: { type: "kafka", kafka: { brokers: ["b"], topic: s } },
    });
    assert.deepEqual(problems(topic("😀".repeat(LIMITS.topic))), []);
    assert.deepEqual(problems(topic("😀".repeat(LIMITS.topic + 1))), [
      "spec.source.kafka.topic: Too long: may not be more than 249 bytes",
    ]);
  });

  it("bound routes, field names and conditions across the whole chain", () => {
    const route = { condition: "x", sink: kafkaSink };
    const router = (n: number) => ({
      type: "router",
      router: { routes: Array.from({ length: n }, () => route) },
    });
    assert.deepEqual(problems({ ...base, transformations: [router(16)] }), []);
    assert.deepEqual(problems({ ...base, transformations: [router(10), router(7)] }), [
      "spec.transformations: all routers together may have at most 16 routes",
    ]);
    assert.deepEqual(problems({ ...base, transformations: [router(17)] }), [
      "spec.transformations[0].router.routes: Too many: 17: must have at most 16 items",
      "spec.transformations: all routers together may have at most 16 routes",
    ]);
    const select = (n: number) => ({
      type: "select",
      select: { fields: Array.from({ length: n }, (_, i) => `f${i}`) },
    });
    assert.deepEqual(problems({ ...base, transformations: [select(200), select(56)] }), []);
    assert.deepEqual(problems({ ...base, transformations: [select(200), select(57)] }), [
      "spec.transformations: all mask, select and remove transformations together may name at most 256 fields",
    ]);
    const filter = (n: number) => ({ type: "filter", filter: { condition: "c".repeat(n) } });
    assert.deepEqual(
      problems({ ...base, transformations: Array.from({ length: 16 }, () => filter(4096)) }),
      [],
    );
    assert.deepEqual(
      problems({ ...base, transformations: [...Array.from({ length: 16 }, () => filter(4096)), filter(1)] }),
      [
        "spec.transformations: all filter and route conditions together may have at most 65536 characters",
      ],
    );
  });

  it("allow only the block a type picks", () => {
    assert.deepEqual(
      problems({ ...base, sink: { ...kafkaSink, postgresql: { connectionString: "x", table: "t" } } }),
      ["spec.sink.postgresql: postgresql sink configuration is only allowed when type is postgresql"],
    );
    assert.deepEqual(
      problems({ ...base, transformations: [{ type: "flatten", flatten: { field: "f" }, snakeCase: {} }] }),
      ["spec.transformations[0].snakeCase: snakeCase transformation configuration is only allowed when type is snakeCase"],
    );
  });
});

describe("checkSpecSize", () => {
  const withAvro = (avroSchema: string): DataFlowSpec =>
    ({ ...base, source: { type: "kafka", kafka: { ...kafkaSource.kafka, avroSchema } } }) as DataFlowSpec;

  it("passes a spec that fits", () => {
    assert.equal(
      checkSpecSize(written(withAvro("x".repeat(LIMITS.avroSchema))), "dataflow-a-spec"),
      undefined,
    );
  });

  it("names the size, the ConfigMap and the largest fields of an admissible spec that does not fit", () => {
    // 262144 characters, each 4 bytes in UTF-8: admitted, but 1 MiB on its own.
    const spec = withAvro("😀".repeat(LIMITS.avroSchema)) as Any;
    spec.sink = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "€".repeat(LIMITS.topic) } };
    const json = written(spec);
    assert.ok(bytes(json) > CONFIGMAP_DATA_LIMIT);
    assert.equal(
      checkSpecSize(json, "dataflow-a-spec"),
      `spec: its JSON (spec.json) is ${
        bytes(json)
      } bytes, more than the 1048576 bytes ConfigMap dataflow-a-spec ` +
        `can hold; largest fields: spec.source.kafka.avroSchema (1048578 bytes), spec.sink.kafka.topic (749 bytes), ` +
        `spec.source.kafka.brokers[0] (8 bytes)`,
    );
  });

  it("weighs affinity as a whole (the CRD bounds only its keys)", () => {
    const affinity = { nodeAffinity: { x: Array.from({ length: 120_000 }, () => "abcdefg") } };
    const json = written({ ...base, affinity });
    assert.match(
      checkSpecSize(json, "dataflow-a-spec") ?? "",
      /; largest fields: spec\.affinity \(1200024 bytes\), spec\.source\.kafka\.brokers\[0\] \(8 bytes\)/,
    );
  });
});
