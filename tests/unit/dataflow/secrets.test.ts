/** Secret references: which are used, how they are checked, what the processor gets. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  collectSecretRefs,
  configMapSpec,
  resolveSecretRefs,
  secretFilePath,
  secretKeysFromManagedFields,
} from "../../../lib/dataflow/secrets.ts";
import { checkSpec, type DataFlowSpec } from "../../../lib/dataflow/schema.ts";

const ref = (name: string, key: string, namespace?: string) => ({
  name,
  key,
  ...(namespace ? { namespace } : {}),
});

function spec(raw: unknown): DataFlowSpec {
  const r = checkSpec(raw);
  assert.ok(r.ok, r.ok ? "" : r.problems.join("; "));
  return r.spec;
}

const parsed = spec({
  source: {
    type: "kafka",
    kafka: {
      brokersSecretRef: ref("kafka", "brokers"),
      topic: "t",
      sasl: { username: "u", passwordSecretRef: ref("kafka", "pw") },
    },
  },
  sink: { type: "postgresql", postgresql: { connectionStringSecretRef: ref("pg", "dsn"), table: "t" } },
  errors: { type: "kafka", kafka: { brokers: ["b"], topicSecretRef: ref("dlq", "topic") } },
  transformations: [{
    type: "router",
    router: {
      routes: [{
        condition: "c",
        sink: {
          type: "postgresql",
          postgresql: { connectionStringSecretRef: ref("pg", "dsn2"), table: "r" },
        },
      }],
    },
  }],
});
// Not the active block: its reference must be ignored, as in the Go operator. (The CRD refuses an
// inactive block since it bounds the spec's size; the collector still ignores one.)
const s: DataFlowSpec = {
  ...parsed,
  source: { ...parsed.source, postgresql: { connectionStringSecretRef: ref("unused", "dsn"), table: "x" } },
};

describe("secret references", () => {
  it("collects the references of the blocks in use, the error sink and router sinks included", () => {
    assert.deepEqual(collectSecretRefs(s).map((u) => `${u.field}=${u.ref.name}/${u.ref.key}`), [
      "spec.source.kafka.brokersSecretRef=kafka/brokers",
      "spec.source.kafka.sasl.passwordSecretRef=kafka/pw",
      "spec.sink.postgresql.connectionStringSecretRef=pg/dsn",
      "spec.transformations[0].router.routes[0].sink.postgresql.connectionStringSecretRef=pg/dsn2",
      "spec.errors.kafka.topicSecretRef=dlq/topic",
    ]);
  });

  it("keeps the ConfigMap's spec.json to references (no namespace) and leaves the input untouched", () => {
    const withNs = spec({
      ...parsed,
      sink: {
        type: "postgresql",
        postgresql: { connectionStringSecretRef: ref("pg", "dsn", "ns"), table: "t" },
      },
    });
    const out = configMapSpec(withNs);
    assert.deepEqual(out.sink.postgresql!.connectionStringSecretRef, { name: "pg", key: "dsn" });
    assert.equal(withNs.sink.postgresql!.connectionStringSecretRef!.namespace, "ns");
    // Where the init container finds a value: the kubelet's projection of the key.
    assert.equal(secretFilePath("a", "b.c"), "/var/run/dataflow/secrets/a/b.c");
    assert.equal(secretFilePath("a", "b.c", "/tmp/x"), "/tmp/x/a/b.c");
  });

  it("reads data keys from managedFields, data and stringData alike", () => {
    assert.deepEqual(
      secretKeysFromManagedFields([
        { fieldsV1: { "f:data": { ".": {}, "f:password": {} }, "f:type": {} } },
        { fieldsV1: { "f:stringData": { "f:url": {} } } },
      ]),
      ["password", "url"],
    );
    assert.equal(secretKeysFromManagedFields([]), undefined);
    assert.equal(secretKeysFromManagedFields(undefined), undefined);
  });

  it("mounts each Secret once with exactly its referenced keys", () => {
    const secrets: Record<string, { keys?: string[] }> = {
      kafka: { keys: ["brokers", "pw", "other"] },
      pg: { keys: ["dsn", "dsn2"] },
      dlq: {}, // keys unknown (managedFields cleared): trusted
    };
    const r = resolveSecretRefs(
      collectSecretRefs(s),
      "ns",
      (n) => secrets[n] && { name: n, resourceVersion: `rv-${n}`, ...secrets[n] },
    );
    assert.ok(r.ok);
    assert.deepEqual(r.mounts, [
      { secretName: "dlq", volumeName: "secret-0", keys: ["topic"] },
      { secretName: "kafka", volumeName: "secret-1", keys: ["brokers", "pw"] },
      { secretName: "pg", volumeName: "secret-2", keys: ["dsn", "dsn2"] },
    ]);
    assert.deepEqual(r.versions, { kafka: "rv-kafka", pg: "rv-pg", dlq: "rv-dlq" });
  });

  it("names every failing reference: missing Secret, missing key, other namespace", () => {
    const uses = [
      { field: "spec.a", ref: ref("gone", "k") },
      { field: "spec.b", ref: ref("pg", "nokey") },
      { field: "spec.c", ref: ref("pg", "dsn", "kube-system") },
      { field: "spec.d", ref: ref("pg", "dsn", "ns") },
    ];
    const r = resolveSecretRefs(
      uses,
      "ns",
      (n) => n === "pg" ? { name: n, resourceVersion: "1", keys: ["dsn"] } : undefined,
    );
    assert.ok(!r.ok);
    assert.equal(
      r.message,
      "spec.a: Secret ns/gone not found; spec.b: key nokey not found in Secret ns/pg; " +
        "spec.c: Secret kube-system/pg is in another namespace; cross-namespace secret references are refused " +
        "(use a Secret in namespace ns)",
    );
  });
});
