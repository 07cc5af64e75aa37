/** The zod schema as the reconcile-time check: Go operator manifests pass, bad specs name their field. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkSpec } from "../../../lib/dataflow/schema.ts";

const ref = (name: string, key: string) => ({ name, key });

/** The Go operator's kafka-to-postgres-secrets sample, SecretRefs only. */
const secretsOnly = {
  source: {
    type: "kafka",
    kafka: {
      brokersSecretRef: ref("kafka", "brokers"),
      topicSecretRef: ref("kafka", "topic"),
      sasl: {
        mechanism: "scram-sha-512",
        usernameSecretRef: ref("kafka", "user"),
        passwordSecretRef: ref("kafka", "pass"),
      },
      tls: { caSecretRef: ref("kafka", "ca.crt") },
    },
  },
  sink: {
    type: "postgresql",
    postgresql: {
      connectionStringSecretRef: ref("pg", "dsn"),
      tableSecretRef: ref("pg", "table"),
      batchSize: 100,
    },
  },
};

/** A spec written with the Go CRD's workaround (`brokers: []`, `topic: ""` beside the refs). */
const goWorkaround = {
  source: {
    type: "kafka",
    kafka: { brokers: [], topic: "", brokersSecretRef: ref("k", "b"), topicSecretRef: ref("k", "t") },
  },
  sink: { type: "kafka", kafka: { brokers: ["b:9092"], topic: "out" } },
};

const full = {
  source: {
    type: "trino",
    trino: {
      serverURL: "https://trino:8443",
      catalog: "hive",
      schema: "s",
      table: "t",
      pollInterval: 10,
      keycloak: {
        serverURL: "https://kc",
        realm: "r",
        clientID: "c",
        clientSecretSecretRef: ref("kc", "secret"),
      },
    },
  },
  sink: { type: "kafka", kafka: { brokers: ["b:9092"], topic: "out" } },
  errors: { type: "kafka", kafka: { brokers: ["b:9092"], topic: "dlq" } },
  transformations: [
    { type: "timestamp", timestamp: {} },
    { type: "mask", mask: { fields: ["email"], keepLength: true } },
    {
      type: "router",
      router: {
        routes: [{
          condition: "kind == 'vip'",
          sink: { type: "postgresql", postgresql: { connectionString: "x", table: "vip" } },
        }],
      },
    },
    { type: "snakeCase", snakeCase: { deep: true } },
  ],
  resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: 1, memory: "1Gi" } },
  nodeSelector: { disk: "ssd" },
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "dataflow", effect: "NoSchedule" }],
};

function problems(spec: unknown): string[] {
  const r = checkSpec(spec);
  return r.ok ? [] : r.problems;
}

describe("checkSpec", () => {
  it("accepts the Go operator's manifests, including SecretRef-only ones", () => {
    for (const spec of [secretsOnly, goWorkaround, full]) assert.deepEqual(problems(spec), []);
  });

  it("keeps fields in schema order and drops unknown ones", () => {
    const r = checkSpec({ sink: full.sink, source: full.source, bogus: 1 });
    assert.ok(r.ok);
    assert.deepEqual(Object.keys(r.spec), ["source", "sink"]);
  });

  it("names the field of each broken rule", () => {
    assert.deepEqual(problems({ source: { type: "kafka", kafka: { topic: "t" } }, sink: full.sink }), [
      "spec.source.kafka.brokers: brokers or brokersSecretRef is required",
    ]);
    assert.deepEqual(problems({ source: full.source, sink: { type: "postgresql" } }), [
      "spec.sink.postgresql: postgresql sink configuration is required when type is postgresql",
    ]);
    assert.deepEqual(
      problems({ source: full.source, sink: full.sink, transformations: [{ type: "flatten" }] }),
      [
        "spec.transformations[0].flatten: flatten transformation configuration is required when type is flatten",
      ],
    );
    assert.deepEqual(
      problems({
        source: full.source,
        sink: full.sink,
        transformations: [{ type: "select", select: { fields: [] } }],
      }),
      ["spec.transformations[0].select.fields: at least one field is required"],
    );
  });

  it("checks nested sinks, SASL credentials, types and quantities", () => {
    const route = {
      type: "router",
      router: { routes: [{ condition: "x", sink: { type: "trino", trino: { catalog: "c" } } }] },
    };
    const p = problems({ source: full.source, sink: full.sink, transformations: [route] });
    assert.ok(
      p.includes(
        "spec.transformations[0].router.routes[0].sink.trino.serverURL: serverURL or serverURLSecretRef is required",
      ),
      p.join("\n"),
    );
    const sasl = problems({
      source: { type: "kafka", kafka: { brokers: ["b"], topic: "t", sasl: { username: "u" } } },
      sink: full.sink,
    });
    assert.deepEqual(sasl, ["spec.source.kafka.sasl.password: password or passwordSecretRef is required"]);
    assert.match(problems({ source: { type: "rabbitmq" }, sink: full.sink })[0], /^spec\.source\.type: /);
    assert.match(
      problems({ source: full.source, sink: full.sink, resources: { limits: { cpu: "-1" } } })[0],
      /^spec\.resources\.limits\.cpu: /,
    );
    assert.deepEqual(problems({ source: full.source, sink: full.sink, resources: { limits: { cpu: -1 } } }), [
      "spec.resources.limits: resource quantity must not be negative",
    ]);
    assert.match(problems({ sink: full.sink })[0], /^spec\.source: /);
  });
});
