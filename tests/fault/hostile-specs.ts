/**
 * Seeded generation of invalid and hostile DataFlows, each with what must happen to it: either
 * the API server refuses it (the CRD's schema and CEL rules; a 422 whose message names the field,
 * or a 413 for a body beyond the server's request limit), or it is stored and the operator marks
 * it phase Error with a Warning event of a given reason (what only reconcile can know: Secrets
 * that are missing, lack the key or live in another namespace; what only the Deployment or
 * ConfigMap write can refuse). Wrong types, unknown enum values, missing blocks, empty refs,
 * bad quantities, too many items, deep nesting, huge strings, unicode, hostile names.
 */
import { dataflow } from "../e2e/fixtures.ts";
import type { Prng } from "./prng.ts";

/** What must happen to one generated DataFlow. */
export type Expectation =
  | { kind: "rejected"; status: 422; field: string }
  | { kind: "too-large"; status: 413 }
  | { kind: "error"; reason: string | RegExp; message: RegExp };

/** One generated case. */
export interface HostileCase {
  category: string;
  // deno-lint-ignore no-explicit-any
  body: any;
  expect: Expectation;
}

/** Names the generator refers to: an existing Secret (key `url` only) and one in another namespace. */
export interface HostileContext {
  presentSecret: string;
  foreignNamespace: string;
  foreignSecret: string;
}

// deno-lint-ignore no-explicit-any
type Body = any;
type Make = (b: Body, p: Prng, c: HostileContext) => Expectation;

const UNICODE = ["ünïcödé", "卡夫卡", "😀🔥", "\u202egnp.exe", "a\u0000b", "\uFFFD\uFFFF", "e\u0301", "ﷺ"];

function deep(depth: number): unknown {
  let v: unknown = { leaf: "x" };
  for (let i = 0; i < depth; i++) v = { [`n${i % 3}`]: v };
  return v;
}

const rejected = (field: string): Expectation => ({ kind: "rejected", status: 422, field });
const refused = (reason: string | RegExp, message: RegExp): Expectation => ({
  kind: "error",
  reason,
  message,
});
const secretFailed = (message: RegExp) => refused("SecretResolutionFailed", message);
const deploymentFailed = () => refused("DeploymentFailed", /^Failed to create or update Deployment: /);

function withSinkRef(b: Body, ref: Record<string, string>): void {
  delete b.spec.sink.postgresql.connectionString;
  b.spec.sink.postgresql.connectionStringSecretRef = ref;
}

/** Each category: how many of the 200 and how to make one. */
const CATEGORIES: Array<[string, number, Make]> = [
  ["wrong type", 20, (b, p) =>
    p.pick<() => Expectation>([
      () => (b.spec.source.kafka.topic = p.int(0, 1e9), rejected("spec.source.kafka.topic")),
      () => (b.spec.source.kafka.topic = true, rejected("spec.source.kafka.topic")),
      () => (b.spec.source.kafka.brokers = "kafka:9092", rejected("spec.source.kafka.brokers")),
      () => (b.spec.source.kafka.brokers = [p.int(1, 9)], rejected("spec.source.kafka.brokers[0]")),
      () => (b.spec.sink.postgresql.table = p.int(0, 99), rejected("spec.sink.postgresql.table")),
      () => (b.spec.sink.postgresql.batchSize = "many", rejected("spec.sink.postgresql.batchSize")),
      () => (b.spec.sink.postgresql.autoCreateTable = "yes",
        rejected("spec.sink.postgresql.autoCreateTable")),
      () => (b.spec.transformations = { type: "mask" }, rejected("spec.transformations")),
      () => (b.spec.nodeSelector = ["zone-a"], rejected("spec.nodeSelector")),
      () => (b.spec.tolerations = "all", rejected("spec.tolerations")),
      () => (b.spec.resources = 5, rejected("spec.resources")),
      () => (b.spec = "DROP TABLE dataflows;", rejected("spec")),
    ])()],
  ["unknown enum value", 12, (b, p) => {
    const v = p.pick(["mongodb", "KAFKA", "kafka ", ...UNICODE, ""]);
    return p.pick<() => Expectation>([
      () => (b.spec.source.type = v, rejected("spec.source.type")),
      () => (b.spec.sink.type = v, rejected("spec.sink.type")),
      () => (b.spec.transformations = [{ type: v, timestamp: {} }], rejected("spec.transformations[0].type")),
    ])();
  }],
  ["block missing for its type", 12, (b, p) => {
    const t = p.pick(["kafka", "postgresql", "trino"]);
    if (p.chance(0.5)) {
      b.spec.source = { type: t };
      return rejected(`spec.source.${t}`);
    }
    b.spec.sink = { type: t };
    return rejected(`spec.sink.${t}`);
  }],
  ["required block missing", 10, (b, p) =>
    p.pick<() => Expectation>([
      () => (delete b.spec, rejected("spec")),
      () => (delete b.spec.source, rejected("spec.source")),
      () => (delete b.spec.sink, rejected("spec.sink")),
      () => (delete b.spec.source.type, rejected("spec.source.type")),
      () => (b.spec.errors = { kafka: { brokers: ["k:9092"], topic: "dlq" } }, rejected("spec.errors.type")),
    ])()],
  ["neither value nor SecretRef", 12, (b, p) =>
    p.pick<() => Expectation>([
      () => (delete b.spec.source.kafka.topic, rejected("spec.source.kafka.topic")),
      () => (delete b.spec.source.kafka.brokers, rejected("spec.source.kafka.brokers")),
      () => (b.spec.source.kafka.brokers = [], rejected("spec.source.kafka.brokers")),
      () => (delete b.spec.sink.postgresql.table, rejected("spec.sink.postgresql.table")),
      () => (delete b.spec.sink.postgresql.connectionString,
        rejected("spec.sink.postgresql.connectionString")),
    ])()],
  ["empty SecretRef", 8, (b, p) =>
    p.pick<() => Expectation>([
      () => (withSinkRef(b, { name: "", key: "url" }),
        rejected("spec.sink.postgresql.connectionStringSecretRef.name")),
      () => (withSinkRef(b, { name: "db", key: "" }),
        rejected("spec.sink.postgresql.connectionStringSecretRef.key")),
      () => (b.spec.source.kafka.topicSecretRef = { name: "t" },
        rejected("spec.source.kafka.topicSecretRef.key")),
    ])()],
  ["bad resource quantity", 10, (b, p) => {
    const q = p.pick(["-1", "lots", "1.2.3", "１００m", "12 Mi", "1e", ""]);
    if (p.chance(0.2)) {
      b.spec.resources = { limits: { cpu: -p.int(1, 100) } };
      return rejected("spec.resources.limits");
    }
    b.spec.resources = { requests: { memory: q } };
    return rejected("spec.resources.requests.memory");
  }],
  ["too many items", 6, (b, p) =>
    p.pick<() => Expectation>([
      () => (b.spec.transformations = Array.from(
        { length: 65 },
        () => ({ type: "snakeCase", snakeCase: {} }),
      ),
        rejected("spec.transformations")),
      () => (b.spec.resources = {
        limits: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`r${i}`, 1])),
      },
        rejected("spec.resources.limits")),
      () => (b.spec.transformations = [{
        type: "router",
        router: { routes: Array.from({ length: 65 }, () => ({ condition: "x", sink: b.spec.sink })) },
      }],
        rejected("spec.transformations[0].router.routes")),
    ])()],
  ["deep nesting in a typed field", 8, (b, p) => {
    const d = deep(p.int(10, 60));
    return p.pick<() => Expectation>([
      () => (b.spec.source.kafka.topic = d, rejected("spec.source.kafka.topic")),
      () => (b.spec.sink.postgresql.table = d, rejected("spec.sink.postgresql.table")),
      () => (b.spec.nodeSelector = { zone: d }, rejected("spec.nodeSelector.zone")),
    ])();
  }],
  ["empty list or condition", 8, (b, p) => {
    const [type, block, field] = p.pick(
      [
        ["mask", { fields: [] }, "fields"],
        ["select", { fields: [] }, "fields"],
        ["remove", { fields: [] }, "fields"],
        ["filter", { condition: "" }, "condition"],
        ["flatten", { field: "" }, "field"],
      ] as const,
    );
    b.spec.transformations = [{ type, [type]: block }];
    return rejected(`spec.transformations[0].${type}.${field}`);
  }],
  ["hostile name", 8, (b, p) => {
    b.metadata.name = p.pick([
      "a".repeat(p.int(64, 252)),
      "b".repeat(p.int(254, 5_000)),
      "dätaflow",
      "df-😀",
      "DF-UPPER",
      "df_underscore",
      "-leading-dash",
    ]);
    return rejected("metadata.name");
  }],
  ["body beyond the request limit", 2, (b) => {
    b.spec.source.kafka.topic = "t".repeat(3_300_000);
    return { kind: "too-large", status: 413 };
  }],
  ["int32 overflow", 4, (b, p) =>
    p.pick<() => Expectation>([
      () => (b.spec.source = {
        type: "postgresql",
        postgresql: { connectionString: "postgres://x@db/x", table: "t", pollInterval: 2 ** p.int(32, 52) },
      },
        rejected("spec.source.postgresql.pollInterval")),
      () => (b.spec.sink.postgresql.batchSize = -(2 ** 40), rejected("spec.sink.postgresql.batchSize")),
    ])()],
  ["router route without its sink block", 6, (b, p) => {
    const t = p.pick(["kafka", "postgresql", "trino"]);
    b.spec.transformations = [{
      type: "router",
      router: { routes: [{ condition: "x > 1", sink: { type: t } }] },
    }];
    return rejected(`spec.transformations[0].router.routes[0].sink.${t}`);
  }],
  // Accepted by the API server; only reconcile can tell.
  ["reference to a missing Secret", 16, (b, p) => {
    const name = p.pick(["missing-db", `gone-${p.int(0, 999)}`, "sécret😀", "s".repeat(253), "Upper_Case"]);
    if (p.chance(0.3)) {
      delete b.spec.source.kafka.topic;
      b.spec.source.kafka.topicSecretRef = { name, key: "topic" };
    } else withSinkRef(b, { name, key: "url" });
    return secretFailed(/^Failed to resolve secrets: .*not found/);
  }],
  ["reference to a missing key", 10, (b, p, c) => {
    withSinkRef(b, { name: c.presentSecret, key: p.pick(["password", "ключ", "k".repeat(253), "url "]) });
    return secretFailed(/^Failed to resolve secrets: .*key .* not found/);
  }],
  ["cross-namespace SecretRef", 12, (b, p, c) => {
    const [namespace, name] = p.chance(0.7)
      ? [c.foreignNamespace, c.foreignSecret]
      : ["kube-system", "admin-token"];
    withSinkRef(b, { name, key: "url", namespace });
    return secretFailed(/another namespace/);
  }],
  ["placement the Deployment API refuses", 24, (b, p) => {
    p.pick<() => void>([
      () => b.spec.tolerations = [{ key: "k", operator: p.pick(["Sometimes", "exists", "NotIn"]) }],
      () =>
        b.spec.tolerations = [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 5 }],
      () => b.spec.nodeSelector = { [p.pick(UNICODE.slice(0, 4))]: "v" },
      () => b.spec.nodeSelector = { zone: p.pick(["not a label value", "-v-", "v".repeat(62) + "."]) },
      () => b.spec.resources = { requests: { cpu: "2" }, limits: { cpu: "1" } },
      () => b.spec.affinity = { nodeAffinity: p.pick(["any", 42, ["a"]]) },
    ])();
    return deploymentFailed();
  }],
  ["spec too large for its ConfigMap", 2, (b, p) => {
    if (p.chance(0.5)) {
      // Over its CRD limit: refused at admission.
      b.spec.source.kafka.avroSchema = "t".repeat(p.int(262_145, 1_100_000));
      return rejected("spec.source.kafka.avroSchema");
    }
    // Within it in characters, yet 4 bytes each in JSON: only the operator's size check can tell.
    b.spec.source.kafka.avroSchema = "😀".repeat(262_144);
    return refused("InvalidSpec", /spec\.source\.kafka\.avroSchema \(1048578 bytes\)/);
  }],
  ["deeply nested unknown fields in affinity", 10, (b, p) => {
    b.spec.affinity = p.chance(0.5) ? deep(p.int(20, 150)) as Record<string, unknown> : {
      // A real rule next to a typo'd one, nested: the typo must not be dropped silently.
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
        },
      },
      podAntiAfinity: deep(p.int(3, 30)),
    };
    // Stored (affinity keeps unknown fields); nothing a Deployment can carry, so it must not run.
    return refused(/.+/, /.+/);
  }],
];

/** The 200 cases (in a seeded order, so categories interleave). */
export function hostileCases(p: Prng, c: HostileContext): HostileCase[] {
  const out: HostileCase[] = [];
  for (const [category, count, make] of CATEGORIES) {
    for (let i = 0; i < count; i++) {
      const body: Body = structuredClone(dataflow("x", { connectionString: "postgres://app@db/app" }));
      body.metadata.name = `h-${String(out.length).padStart(3, "0")}`;
      out.push({ category, body, expect: make(body, p, c) });
    }
  }
  // Fisher-Yates with the seeded source.
  for (let i = out.length - 1; i > 0; i--) {
    const j = p.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  // Names in creation order (the hostile-name cases keep theirs).
  for (const [i, c] of out.entries()) {
    if (c.body.metadata.name.startsWith("h-")) c.body.metadata.name = `h-${String(i).padStart(3, "0")}`;
  }
  return out;
}

/** Valid DataFlows to create alongside: plain ones and hostile-but-valid values (unicode, long). */
export function validBodies(p: Prng, count: number): Body[] {
  return Array.from({ length: count }, (_, i) => {
    const body: Body = structuredClone(dataflow(`v-${String(i).padStart(2, "0")}`, {
      connectionString: "postgres://app@db/app",
    }));
    if (i % 2 === 1) {
      body.spec.source.kafka.topic = p.pick(UNICODE) + "-" + "x".repeat(p.int(0, 200));
      body.spec.source.kafka.avroSchema = p.pick(UNICODE) + "-" + "x".repeat(p.int(0, 100_000));
      body.spec.sink.postgresql.table = p.pick(UNICODE);
    }
    return body;
  });
}
