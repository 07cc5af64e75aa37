/**
 * The CRD's size limits on the real API server: the CRD with them is accepted (CEL cost estimates
 * within budget), a value over its limit and a chain over a total are refused with a 422 naming
 * the field and the limit, in the words the reconcile-time check uses too, and the largest spec the
 * CRD admits is stored and its spec.json fits the ConfigMap the operator writes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { clientFor, freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import type { KubeClient } from "../../../lib/kube/client.ts";
import { ApiError } from "../../../lib/kube/errors.ts";
import { builtin } from "../../../lib/kube/resources.ts";
import { buildConfigMap, specJson } from "../../../lib/dataflow/builders.ts";
import { DataFlowType } from "../../../lib/dataflow/names.ts";
import { checkSpec, type DataFlow } from "../../../lib/dataflow/schema.ts";
import { CONFIGMAP_DATA_LIMIT, LIMITS } from "../../../lib/dataflow/limits.ts";
import { installCrd } from "../../e2e/install.ts";
import { worstCaseSpec } from "../../unit/dataflow/worst-case.ts";

const kafkaSink = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "out" } };
const kafkaSource = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "in" } };
const base = { source: kafkaSource, sink: kafkaSink };
const route = { condition: "x", sink: kafkaSink };
const router = (n: number) => ({
  type: "router",
  router: { routes: Array.from({ length: n }, () => route) },
});
/** How kubectl shows the refusal (the README quotes it). */
const README_REFUSAL = `The DataFlow "big" is invalid: 
* spec.source.kafka.avroSchema: Too long: may not be more than 262144 bytes
* <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`;

const avro = (n: number) => ({
  ...base,
  source: { type: "kafka", kafka: { ...kafkaSource.kafka, avroSchema: "x".repeat(n) } },
});
const topic = (s: string) => ({ ...base, source: { type: "kafka", kafka: { brokers: ["b"], topic: s } } });

/** Over a limit: each refused by both, with the same field and message. */
const over: Record<string, unknown> = {
  "avroSchema over its maxLength": avro(LIMITS.avroSchema + 1),
  "topic over its maxLength in emoji": topic("😀".repeat(LIMITS.topic + 1)),
  "too many tolerations": {
    ...base,
    tolerations: Array.from({ length: LIMITS.tolerations + 1 }, () => ({ key: "k" })),
  },
  "a node selector key too long": { ...base, nodeSelector: { ["k".repeat(LIMITS.labelKey + 1)]: "v" } },
  "a fourth affinity key": {
    ...base,
    affinity: { nodeAffinity: {}, podAffinity: {}, podAntiAffinity: {}, typo: {} },
  },
  "routes over the total": { ...base, transformations: [router(10), router(7)] },
  "field names over the total": {
    ...base,
    transformations: [200, 57].map((n) => ({
      type: "select",
      select: { fields: Array.from({ length: n }, (_, i) => `f${i}`) },
    })),
  },
  "conditions over the total": {
    ...base,
    transformations: [...Array.from({ length: 16 }, () => "c".repeat(LIMITS.condition)), "c"].map((
      condition,
    ) => ({
      type: "filter",
      filter: { condition },
    })),
  },
  "an inactive block": {
    ...base,
    sink: { ...kafkaSink, trino: { serverURL: "s", catalog: "c", schema: "s", table: "t" } },
  },
};

/** At a limit: admitted by both. */
const at: Record<string, unknown> = {
  "avroSchema at its maxLength": avro(LIMITS.avroSchema),
  "topic at its maxLength in emoji": topic("😀".repeat(LIMITS.topic)),
  "routes at the total": { ...base, transformations: [router(10), router(6)] },
};

function body(ns: string, name: string, spec: unknown) {
  return { apiVersion: "dataflow.dataflow.io/v1", kind: "DataFlow", metadata: { name, namespace: ns }, spec };
}

describe("the CRD's size limits on the API server", { timeout: 180_000 }, () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let ns: string;
  let setup: Promise<void> | undefined;
  const ready = () =>
    setup ??= (async () => {
      cp = await testControlPlane();
      // Applying it is the first check: the API server refuses a CRD whose CEL rules could cost
      // more than its budget, which unbounded strings and lists would.
      await installCrd(cp);
      client = clientFor(cp);
      ns = await freshNamespace(cp, "limits");
    })();

  /** The API server's answer to a dry-run create: undefined when admitted. */
  async function dryRun(name: string, spec: unknown): Promise<ApiError | undefined> {
    try {
      await client.create(DataFlowType, body(ns, name, spec), { namespace: ns, dryRun: true });
      return undefined;
    } catch (err) {
      if (err instanceof ApiError) return err;
      throw err;
    }
  }

  it("refuses an over-long avroSchema with a 422 naming the field and its limit", async () => {
    await ready();
    const err = await dryRun("long-avro", avro(LIMITS.avroSchema + 1));
    assert.equal(err?.code, 422, err?.message);
    assert.match(err.detail, /spec\.source\.kafka\.avroSchema: Too long: may not be more than 262144 bytes/);
    // What a tenant sees, as the README's "Size limits and memory" shows it.
    const applied = await cp.kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], {
      input: JSON.stringify(body(ns, "big", avro(LIMITS.avroSchema + 1))),
    });
    assert.notEqual(applied.code, 0);
    assert.ok(applied.stderr.includes(README_REFUSAL), applied.stderr);
  });

  it("refuses a chain over a CEL total with a 422 naming the total", async () => {
    await ready();
    const err = await dryRun("many-routes", over["routes over the total"]);
    assert.equal(err?.code, 422, err?.message);
    assert.match(
      err.detail,
      /spec\.transformations: Invalid value: all routers together may have at most 16 routes/,
    );
  });

  it("reports each limit in the words of the reconcile-time check, and admits what is at a limit", async () => {
    await ready();
    for (const [title, spec] of Object.entries(over)) {
      const check = checkSpec(spec);
      assert.ok(!check.ok, `${title}: zod accepted it`);
      const err = await dryRun("over", spec);
      assert.equal(err?.code, 422, `${title}: ${err?.message ?? "admitted"}`);
      for (const problem of check.problems) {
        const i = problem.indexOf(": ");
        const [field, message] = [problem.slice(0, i), problem.slice(i + 2)];
        assert.ok(
          err.detail.includes(`${field}: ${message}`) ||
            err.detail.includes(`${field}: Invalid value: ${message}`),
          `${title}: the API server did not report "${problem}":\n${err.detail}`,
        );
      }
    }
    for (const [title, spec] of Object.entries(at)) {
      const check = checkSpec(spec);
      assert.ok(check.ok, `${title}: ${!check.ok && check.problems.join("; ")}`);
      const err = await dryRun("at", spec);
      assert.equal(err, undefined, `${title}: ${err?.message}`);
    }
  });

  it("stores the largest admissible spec, and its spec.json fits a ConfigMap", async () => {
    await ready();
    const spec = worstCaseSpec();
    const stored = await client.create<DataFlow>(
      DataFlowType,
      body(ns, "largest", spec) as unknown as DataFlow,
      {
        namespace: ns,
      },
    );
    // What the operator does with it: the reconcile-time check, then spec.json into the ConfigMap.
    const check = checkSpec(stored.spec);
    assert.ok(check.ok, !check.ok ? check.problems.join("; ") : "");
    const json = specJson(check.spec);
    const bytes = new TextEncoder().encode(json).length;
    assert.ok(bytes <= CONFIGMAP_DATA_LIMIT, `${bytes} bytes`);
    const cm = await client.create(builtin.ConfigMap, buildConfigMap(stored, json), { namespace: ns });
    assert.equal(cm.data?.["spec.json"], json);
  });
});
