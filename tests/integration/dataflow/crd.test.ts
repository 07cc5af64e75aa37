/**
 * The generated CRD on the real API server: it is accepted (structural, CEL within the cost
 * budget), the Go operator's manifests apply unchanged, and for every broken spec the API server
 * and the reconcile-time check (the same zod schema) report the same field with the same message.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { freshNamespace, testControlPlane } from "../../controlplane/env.ts";
import type { ControlPlane } from "../../controlplane/harness.ts";
import { checkSpec } from "../../../lib/dataflow/schema.ts";
import { installCrd } from "../../e2e/install.ts";

const ref = (name: string, key: string) => ({ name, key });
const kafkaSink = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "out" } };
const kafkaSource = { type: "kafka", kafka: { brokers: ["b:9092"], topic: "in" } };

/** Manifests as written for the Go operator. */
const valid: Record<string, unknown> = {
  "secret-refs-only": {
    source: {
      type: "kafka",
      kafka: { brokersSecretRef: ref("k", "brokers"), topicSecretRef: ref("k", "topic") },
    },
    sink: {
      type: "postgresql",
      postgresql: { connectionStringSecretRef: ref("pg", "dsn"), tableSecretRef: ref("pg", "t") },
    },
  },
  "go-crd-workaround": {
    source: {
      type: "kafka",
      kafka: { brokers: [], topic: "", brokersSecretRef: ref("k", "b"), topicSecretRef: ref("k", "t") },
    },
    sink: kafkaSink,
  },
  "everything": {
    source: {
      type: "trino",
      trino: {
        serverURL: "https://t",
        catalog: "c",
        schema: "s",
        table: "t",
        keycloak: { serverURL: "https://kc", realm: "r", clientIDSecretRef: ref("kc", "id") },
      },
    },
    sink: {
      type: "postgresql",
      postgresql: { connectionString: "postgres://x", table: "t", batchSize: 10, upsertMode: true },
    },
    errors: kafkaSink,
    transformations: [
      { type: "timestamp", timestamp: { fieldName: "ts" } },
      { type: "router", router: { routes: [{ condition: "a == 'b'", sink: kafkaSink }] } },
      { type: "camelCase", camelCase: {} },
    ],
    resources: { requests: { cpu: "100m", memory: 134217728 }, limits: { cpu: 1 } },
    nodeSelector: { disk: "ssd" },
    affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
    tolerations: [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 30 }],
  },
};

/** Broken specs: each must be rejected by both, with the same field and message. */
const invalid: Record<string, unknown> = {
  "kafka without brokers": { source: { type: "kafka", kafka: { topic: "t" } }, sink: kafkaSink },
  "postgresql without table": {
    source: kafkaSource,
    sink: { type: "postgresql", postgresql: { connectionStringSecretRef: ref("pg", "dsn") } },
  },
  "sink type without its block": { source: kafkaSource, sink: { type: "trino" } },
  "transformation without its block": {
    source: kafkaSource,
    sink: kafkaSink,
    transformations: [{ type: "mask" }],
  },
  "router route sink without serverURL": {
    source: kafkaSource,
    sink: kafkaSink,
    transformations: [{
      type: "router",
      router: {
        routes: [{
          condition: "x",
          sink: { type: "trino", trino: { catalog: "c", schema: "s", table: "t" } },
        }],
      },
    }],
  },
  "SASL without password": {
    source: {
      type: "kafka",
      kafka: { brokers: ["b"], topic: "t", sasl: { mechanism: "plain", username: "u" } },
    },
    sink: kafkaSink,
  },
  "negative integer quantity": { source: kafkaSource, sink: kafkaSink, resources: { limits: { cpu: -1 } } },
  "keycloak without realm": {
    source: kafkaSource,
    sink: {
      type: "trino",
      trino: {
        serverURL: "s",
        catalog: "c",
        schema: "s",
        table: "t",
        keycloak: { serverURL: "k", clientID: "c" },
      },
    },
  },
};

function manifest(ns: string, name: string, spec: unknown): string {
  return JSON.stringify({
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name, namespace: ns },
    spec,
  });
}

describe("the DataFlow CRD on the API server", { timeout: 120_000 }, () => {
  let cp: ControlPlane;
  let ns: string;
  let setup: Promise<void> | undefined;
  const ready = () =>
    setup ??= (async () => {
      cp = await testControlPlane();
      await installCrd(cp);
      ns = await freshNamespace(cp, "crd");
    })();

  it("accepts the Go operator's manifests unchanged", { timeout: 60_000 }, async () => {
    await ready();
    for (const [name, spec] of Object.entries(valid)) {
      const check = checkSpec(spec);
      assert.ok(check.ok, `${name}: ${!check.ok && check.problems.join("; ")}`);
      const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], {
        input: manifest(ns, name, spec),
      });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    }
  });

  it("rejects each broken spec with the same field and message as the reconcile-time check", {
    timeout: 60_000,
  }, async () => {
    await ready();
    for (const [title, spec] of Object.entries(invalid)) {
      const check = checkSpec(spec);
      assert.ok(!check.ok, `${title}: zod accepted it`);
      const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], {
        input: manifest(ns, "bad", spec),
      });
      assert.notEqual(r.code, 0, `${title}: the API server accepted it`);
      for (const problem of check.problems) {
        const [field, message] = [
          problem.slice(0, problem.indexOf(": ")),
          problem.slice(problem.indexOf(": ") + 2),
        ];
        assert.ok(
          r.stderr.includes(`${field}: Invalid value`) && r.stderr.includes(message),
          `${title}: the API server did not report "${problem}":\n${r.stderr}`,
        );
      }
    }
  });

  it("refuses a name too long for the label value", { timeout: 60_000 }, async () => {
    await ready();
    const r = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], {
      input: manifest(ns, "x".repeat(64), valid["go-crd-workaround"]),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /metadata\.name must be at most 63 characters/);
  });

  it("serves the printer columns and the short name", { timeout: 60_000 }, async () => {
    await ready();
    await cp.kubectlOk(["apply", "-f", "-"], { input: manifest(ns, "shown", valid["everything"]) });
    const out = await cp.kubectlOk(["-n", ns, "get", "df", "-o", "wide"]);
    assert.match(
      out,
      /^NAME\s+PHASE\s+SOURCE\s+SINK\s+MESSAGE\s+AGE\nshown\s+(<none>\s+)?trino\s+postgresql/,
    );
  });
});
