/**
 * The DataFlow API (`dataflow.dataflow.io/v1`) as one zod schema: the TypeScript types, the CRD's
 * OpenAPI schema (see crd.ts) and the reconcile-time check all come from here.
 *
 * Field names and nesting follow the Go DataFlow operator, so its manifests apply unchanged. Where
 * the Go CRD marked a plain value as required although its `*SecretRef` twin may replace it (the
 * contradiction that rejected the project's own SecretRef sample), the value is optional here and
 * a rule requires "the value or its SecretRef" instead.
 */
import { z } from "zod";
import { blockMatchesType, type Rule, valueOrRef, withRules } from "./rules.ts";

/** API group, version and kind. */
export const GROUP = "dataflow.dataflow.io";
/** The served and stored version. */
export const VERSION = "v1";
/** `dataflow.dataflow.io/v1`. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The kind. */
export const KIND = "DataFlow";

/** The connector types a source or sink may name. */
export const CONNECTOR_TYPES = ["kafka", "postgresql", "trino"] as const;
/** The transformation types. */
export const TRANSFORMATION_TYPES = [
  "timestamp",
  "flatten",
  "filter",
  "mask",
  "router",
  "select",
  "remove",
  "snakeCase",
  "camelCase",
] as const;

/** A reference to one key of a Secret in the DataFlow's own namespace. */
export const SecretRefSchema = z.object({
  name: z.string().min(1).describe("Name of the Secret, in the DataFlow's namespace."),
  key: z.string().min(1).describe("Key inside the Secret."),
  namespace: z.string().optional().describe(
    "Accepted for compatibility; must be empty or the DataFlow's own namespace (cross-namespace references are refused).",
  ),
}).describe("A key of a Secret; the processor reads it from a mounted file.");

const ref = () => SecretRefSchema.optional();
const str = () => z.string().optional();
const int32 = () => z.int32().optional();

const TLSConfigSchema = z.object({
  insecureSkipVerify: z.boolean().optional(),
  certFile: str(),
  keyFile: str(),
  caFile: str(),
  certSecretRef: ref(),
  keySecretRef: ref(),
  caSecretRef: ref(),
}).describe("TLS settings of a connection.");

const SASLConfigSchema = withRules(
  z.object({
    mechanism: str().describe('"plain" (default), "scram-sha-256" or "scram-sha-512".'),
    username: str(),
    password: str(),
    usernameSecretRef: ref(),
    passwordSecretRef: ref(),
  }),
  [valueOrRef("username"), valueOrRef("password")],
).describe("SASL authentication for Kafka.");

const KeycloakConfigSchema = withRules(
  z.object({
    serverURL: str(),
    realm: str(),
    clientID: str(),
    clientSecret: str(),
    username: str(),
    password: str(),
    token: str(),
    serverURLSecretRef: ref(),
    realmSecretRef: ref(),
    clientIDSecretRef: ref(),
    clientSecretSecretRef: ref(),
    usernameSecretRef: ref(),
    passwordSecretRef: ref(),
    tokenSecretRef: ref(),
  }),
  [valueOrRef("serverURL"), valueOrRef("realm"), valueOrRef("clientID")],
).describe("Keycloak (OAuth2) authentication for Trino.");

const SchemaRegistrySchema = withRules(
  z.object({
    url: str(),
    urlSecretRef: ref(),
    basicAuth: z.object({
      username: str(),
      password: str(),
      usernameSecretRef: ref(),
      passwordSecretRef: ref(),
    }).optional(),
    tls: TLSConfigSchema.optional(),
  }),
  [valueOrRef("url")],
);

const kafkaCommon = {
  brokers: z.array(z.string()).optional(),
  brokersSecretRef: ref().describe("A Secret key holding a comma-separated broker list."),
  topic: str(),
  topicSecretRef: ref(),
  tls: TLSConfigSchema.optional(),
  sasl: SASLConfigSchema.optional(),
};
const kafkaRules = <T>(): Rule<T>[] => [valueOrRef("brokers"), valueOrRef("topic")];

const KafkaSourceSchema = withRules(
  z.object({
    ...kafkaCommon,
    consumerGroup: str(),
    consumerGroupSecretRef: ref(),
    format: str().describe('"json" (default) or "avro".'),
    avroSchema: str(),
    avroSchemaFile: str(),
    avroSchemaSecretRef: ref(),
    schemaRegistry: SchemaRegistrySchema.optional(),
  }),
  kafkaRules(),
);
const KafkaSinkSchema = withRules(z.object(kafkaCommon), kafkaRules());

const PostgreSQLSourceSchema = withRules(
  z.object({
    connectionString: str(),
    table: str(),
    query: str(),
    pollInterval: int32().describe("Seconds between polls (processor default 5)."),
    connectionStringSecretRef: ref(),
    tableSecretRef: ref(),
  }),
  [valueOrRef("connectionString"), valueOrRef("table")],
);
const PostgreSQLSinkSchema = withRules(
  z.object({
    connectionString: str(),
    table: str(),
    batchSize: int32(),
    autoCreateTable: z.boolean().optional(),
    upsertMode: z.boolean().optional(),
    conflictKey: str(),
    connectionStringSecretRef: ref(),
    tableSecretRef: ref(),
  }),
  [valueOrRef("connectionString"), valueOrRef("table")],
);

const trinoCommon = {
  serverURL: str(),
  catalog: str(),
  schema: str(),
  table: str(),
  keycloak: KeycloakConfigSchema.optional(),
  serverURLSecretRef: ref(),
  catalogSecretRef: ref(),
  schemaSecretRef: ref(),
  tableSecretRef: ref(),
};
const trinoRules = <T>(): Rule<T>[] =>
  ["serverURL", "catalog", "schema", "table"].map((f) => valueOrRef<T>(f));
const TrinoSourceSchema = withRules(
  z.object({ ...trinoCommon, query: str(), pollInterval: int32() }),
  trinoRules(),
);
const TrinoSinkSchema = withRules(
  z.object({ ...trinoCommon, batchSize: int32(), autoCreateTable: z.boolean().optional() }),
  trinoRules(),
);

/** Where records come from. */
export const SourceSpecSchema = withRules(
  z.object({
    type: z.enum(CONNECTOR_TYPES),
    kafka: KafkaSourceSchema.optional(),
    postgresql: PostgreSQLSourceSchema.optional(),
    trino: TrinoSourceSchema.optional(),
  }),
  blockMatchesType(CONNECTOR_TYPES, "source"),
);

/** Where records go (also the error sink and each router route's sink). */
export const SinkSpecSchema = withRules(
  z.object({
    type: z.enum(CONNECTOR_TYPES),
    kafka: KafkaSinkSchema.optional(),
    postgresql: PostgreSQLSinkSchema.optional(),
    trino: TrinoSinkSchema.optional(),
  }),
  blockMatchesType(CONNECTOR_TYPES, "sink"),
);

const fieldList = () => z.array(z.string()).min(1, "at least one field is required");

/** One step of the transformation chain. */
export const TransformationSpecSchema = withRules(
  z.object({
    type: z.enum(TRANSFORMATION_TYPES),
    timestamp: z.object({ fieldName: str(), format: str() }).optional(),
    flatten: z.object({ field: z.string().min(1) }).optional(),
    filter: z.object({ condition: z.string().min(1) }).optional(),
    mask: z.object({ fields: fieldList(), maskChar: str(), keepLength: z.boolean().optional() }).optional(),
    router: z.object({
      routes: z.array(z.object({ condition: z.string().min(1), sink: SinkSpecSchema })).max(64),
    }).optional(),
    select: z.object({ fields: fieldList() }).optional(),
    remove: z.object({ fields: fieldList() }).optional(),
    snakeCase: z.object({ deep: z.boolean().optional() }).optional(),
    camelCase: z.object({ deep: z.boolean().optional() }).optional(),
  }),
  blockMatchesType(TRANSFORMATION_TYPES, "transformation"),
);

/** Pattern of a Kubernetes quantity without a sign: negative quantities make no sense for resources. */
export const QUANTITY_PATTERN =
  "^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

/** A quantity, as an integer or an unsigned string (`500m`, `1Gi`). */
export const QuantitySchema = z.union([z.int(), z.string().regex(new RegExp(QUANTITY_PATTERN))])
  .meta({ "x-kubernetes-int-or-string": true });

/** A resource map; the pattern refuses negative strings, this rule negative integers (as the Go webhook did). */
const MAX_RESOURCES = 32;
const quantities = withRules(
  // maxProperties bounds the CEL rule's estimated cost (the API server refuses unbounded maps).
  z.record(z.string(), QuantitySchema).refine((m) => Object.keys(m).length <= MAX_RESOURCES, {
    message: `must have at most ${MAX_RESOURCES} resources`,
  }).meta({ maxProperties: MAX_RESOURCES }),
  [{
    cel: "self.all(k, type(self[k]) != int || self[k] >= 0)",
    message: "resource quantity must not be negative",
    check: (m) => Object.values(m).every((v) => typeof v !== "number" || v >= 0),
  }],
).optional();

/** corev1.ResourceRequirements. */
export const ResourcesSchema = z.object({
  limits: quantities,
  requests: quantities,
  claims: z.array(z.object({ name: z.string(), request: str() })).optional(),
}).describe("Processor container resources; default requests 100m/128Mi, limits 500m/512Mi.");

/** corev1.Toleration. */
export const TolerationSchema = z.object({
  key: str(),
  operator: str(),
  value: str(),
  effect: str(),
  tolerationSeconds: z.int().optional(),
});

/**
 * corev1.Affinity, kept as an opaque object: the API server validates it when the operator writes
 * the Deployment (a bad affinity surfaces as DeploymentFailed naming the field).
 */
export const AffinitySchema = z.record(z.string(), z.unknown()).meta({
  "x-kubernetes-preserve-unknown-fields": true,
});

/** The DataFlow spec. */
export const DataFlowSpecSchema = z.object({
  source: SourceSpecSchema,
  sink: SinkSpecSchema,
  transformations: z.array(TransformationSpecSchema).max(64).optional(),
  errors: SinkSpecSchema.optional().describe("Dead-letter sink for records that fail."),
  resources: ResourcesSchema.optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  affinity: AffinitySchema.optional(),
  tolerations: z.array(TolerationSchema).optional(),
});

/** One status condition (metav1.Condition). */
export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.int().optional(),
});

/** The DataFlow status: the Go operator's fields plus observedGeneration and conditions. */
export const DataFlowStatusSchema = z.object({
  phase: str().describe("Pending, Running, Error or Stopped."),
  message: str(),
  processedCount: z.int().optional(),
  errorCount: z.int().optional(),
  lastProcessedTime: z.string().optional(),
  observedGeneration: z.int().optional(),
  conditions: z.array(ConditionSchema).optional(),
});

/** The spec type. */
export type DataFlowSpec = z.output<typeof DataFlowSpecSchema>;
/** The status type. */
export type DataFlowStatus = z.output<typeof DataFlowStatusSchema>;
/** A SecretRef. */
export type SecretRef = z.output<typeof SecretRefSchema>;
/** A status condition. */
export type Condition = z.output<typeof ConditionSchema>;
/** A sink spec. */
export type SinkSpec = z.output<typeof SinkSpecSchema>;

/** A DataFlow object as stored (the spec is not yet validated: it may predate the CRD's rules). */
export interface DataFlow {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec: DataFlowSpec;
  status?: DataFlowStatus;
  [field: string]: unknown;
}

/** The longest DataFlow name: it becomes the value of the `dataflow.dataflow.io/name` label. */
export const MAX_NAME_LENGTH = 63;

/** A zod issue path in the API server's spelling: `spec.transformations[0].flatten`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`).join("");
}

/** The outcome of {@link checkSpec}. */
export type SpecCheck = { ok: true; spec: DataFlowSpec } | { ok: false; problems: string[] };

/**
 * The reconcile-time check: the same schema and rules the API server enforces, for objects stored
 * before the CRD had them. Problems name the field as the API server does
 * (`spec.transformations[0].flatten: ...`).
 */
export function checkSpec(spec: unknown): SpecCheck {
  const result = DataFlowSpecSchema.safeParse(spec);
  if (result.success) return { ok: true, spec: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((i) => `${fieldPath(["spec", ...i.path])}: ${i.message}`),
  };
}
