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
import { blockMatchesType, onlyMatchingBlock, type Rule, valueOrRef, withRules } from "./rules.ts";
import { fieldPath } from "./field-path.ts";
import { characters, LIMITS, list, map, text, tooMany } from "./limits.ts";

// The API's identity lives in names.ts, which the operator loads without the schema.
export { API_VERSION, GROUP, KIND, VERSION } from "./names.ts";

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
  name: text(LIMITS.name, { length: 1 }).describe("Name of the Secret, in the DataFlow's namespace."),
  key: text(LIMITS.name, { length: 1 }).describe("Key inside the Secret."),
  namespace: text(LIMITS.namespace).optional().describe(
    "Accepted for compatibility; must be empty or the DataFlow's own namespace (cross-namespace references are refused).",
  ),
}).describe("A key of a Secret; the processor reads it from a mounted file.");

const ref = () => SecretRefSchema.optional();
/** An optional string of at most `max` characters. */
const str = (max: number) => text(max).optional();
const name = () => str(LIMITS.name);
const int32 = () => z.int32().optional();

const TLSConfigSchema = z.object({
  insecureSkipVerify: z.boolean().optional(),
  certFile: str(LIMITS.path),
  keyFile: str(LIMITS.path),
  caFile: str(LIMITS.path),
  certSecretRef: ref(),
  keySecretRef: ref(),
  caSecretRef: ref(),
}).describe("TLS settings of a connection.");

const SASLConfigSchema = withRules(
  z.object({
    mechanism: str(LIMITS.keyword).describe('"plain" (default), "scram-sha-256" or "scram-sha-512".'),
    username: name(),
    password: str(LIMITS.secret),
    usernameSecretRef: ref(),
    passwordSecretRef: ref(),
  }),
  [valueOrRef("username"), valueOrRef("password")],
).describe("SASL authentication for Kafka.");

const KeycloakConfigSchema = withRules(
  z.object({
    serverURL: str(LIMITS.url),
    realm: name(),
    clientID: name(),
    clientSecret: str(LIMITS.secret),
    username: name(),
    password: str(LIMITS.secret),
    token: str(LIMITS.token),
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
    url: str(LIMITS.url),
    urlSecretRef: ref(),
    basicAuth: z.object({
      username: name(),
      password: str(LIMITS.secret),
      usernameSecretRef: ref(),
      passwordSecretRef: ref(),
    }).optional(),
    tls: TLSConfigSchema.optional(),
  }),
  [valueOrRef("url")],
);

const kafkaCommon = {
  brokers: list(text(LIMITS.broker), LIMITS.brokers).optional(),
  brokersSecretRef: ref().describe("A Secret key holding a comma-separated broker list."),
  topic: str(LIMITS.topic),
  topicSecretRef: ref(),
  tls: TLSConfigSchema.optional(),
  sasl: SASLConfigSchema.optional(),
};
const kafkaRules = <T>(): Rule<T>[] => [valueOrRef("brokers"), valueOrRef("topic")];

const KafkaSourceSchema = withRules(
  z.object({
    ...kafkaCommon,
    consumerGroup: name(),
    consumerGroupSecretRef: ref(),
    format: str(LIMITS.keyword).describe('"json" (default) or "avro".'),
    avroSchema: str(LIMITS.avroSchema),
    avroSchemaFile: str(LIMITS.path),
    avroSchemaSecretRef: ref(),
    schemaRegistry: SchemaRegistrySchema.optional(),
  }),
  kafkaRules(),
);
const KafkaSinkSchema = withRules(z.object(kafkaCommon), kafkaRules());

const PostgreSQLSourceSchema = withRules(
  z.object({
    connectionString: str(LIMITS.connectionString),
    table: name(),
    query: str(LIMITS.query),
    pollInterval: int32().describe("Seconds between polls (processor default 5)."),
    connectionStringSecretRef: ref(),
    tableSecretRef: ref(),
  }),
  [valueOrRef("connectionString"), valueOrRef("table")],
);
const PostgreSQLSinkSchema = withRules(
  z.object({
    connectionString: str(LIMITS.connectionString),
    table: name(),
    batchSize: int32(),
    autoCreateTable: z.boolean().optional(),
    upsertMode: z.boolean().optional(),
    conflictKey: name(),
    connectionStringSecretRef: ref(),
    tableSecretRef: ref(),
  }),
  [valueOrRef("connectionString"), valueOrRef("table")],
);

const trinoCommon = {
  serverURL: str(LIMITS.url),
  catalog: name(),
  schema: name(),
  table: name(),
  keycloak: KeycloakConfigSchema.optional(),
  serverURLSecretRef: ref(),
  catalogSecretRef: ref(),
  schemaSecretRef: ref(),
  tableSecretRef: ref(),
};
const trinoRules = <T>(): Rule<T>[] =>
  ["serverURL", "catalog", "schema", "table"].map((f) => valueOrRef<T>(f));
const TrinoSourceSchema = withRules(
  z.object({ ...trinoCommon, query: str(LIMITS.query), pollInterval: int32() }),
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
  [...blockMatchesType(CONNECTOR_TYPES, "source"), ...onlyMatchingBlock(CONNECTOR_TYPES, "source")],
);

/** Where records go (also the error sink and each router route's sink). */
export const SinkSpecSchema = withRules(
  z.object({
    type: z.enum(CONNECTOR_TYPES),
    kafka: KafkaSinkSchema.optional(),
    postgresql: PostgreSQLSinkSchema.optional(),
    trino: TrinoSinkSchema.optional(),
  }),
  [...blockMatchesType(CONNECTOR_TYPES, "sink"), ...onlyMatchingBlock(CONNECTOR_TYPES, "sink")],
);

const fieldList = () =>
  list(text(LIMITS.name), LIMITS.fields, { length: 1, message: "at least one field is required" });
const condition = () => text(LIMITS.condition, { length: 1 });

/** One step of the transformation chain. */
export const TransformationSpecSchema = withRules(
  z.object({
    type: z.enum(TRANSFORMATION_TYPES),
    timestamp: z.object({ fieldName: name(), format: str(LIMITS.timestampFormat) }).optional(),
    flatten: z.object({ field: text(LIMITS.name, { length: 1 }) }).optional(),
    filter: z.object({ condition: condition() }).optional(),
    mask: z.object({
      fields: fieldList(),
      maskChar: str(LIMITS.maskChar),
      keepLength: z.boolean().optional(),
    }).optional(),
    router: z.object({
      routes: list(z.object({ condition: condition(), sink: SinkSpecSchema }), LIMITS.routes),
    }).optional(),
    select: z.object({ fields: fieldList() }).optional(),
    remove: z.object({ fields: fieldList() }).optional(),
    snakeCase: z.object({ deep: z.boolean().optional() }).optional(),
    camelCase: z.object({ deep: z.boolean().optional() }).optional(),
  }),
  [
    ...blockMatchesType(TRANSFORMATION_TYPES, "transformation"),
    ...onlyMatchingBlock(TRANSFORMATION_TYPES, "transformation"),
  ],
);

type Transformation = z.output<typeof TransformationSpecSchema>;
const sumOf = (ts: Transformation[], count: (t: Transformation) => number) =>
  ts.reduce((n, t) => n + count(t), 0);
// Defensive: zod runs these on a chain whose items may have failed their own checks.
const routeCount = (t: Transformation) => t.router?.routes?.length ?? 0;
const fieldCount = (t: Transformation) =>
  (t.mask?.fields?.length ?? 0) + (t.select?.fields?.length ?? 0) + (t.remove?.fields?.length ?? 0);
const conditionCharacters = (t: Transformation) =>
  characters(t.filter?.condition ?? "") +
  (t.router?.routes?.reduce((n, r) => n + characters(r?.condition ?? ""), 0) ?? 0);

/**
 * Totals across the chain, which per-field limits alone cannot bound (64 transformations of 16
 * routes each, every route a sink): with them the largest admissible spec fits its ConfigMap.
 */
const chainTotals: Rule<Transformation[]>[] = [
  {
    cel: `self.map(t, has(t.router) ? size(t.router.routes) : 0).sum() <= ${LIMITS.routes}`,
    message: `all routers together may have at most ${LIMITS.routes} routes`,
    check: (ts) => sumOf(ts, routeCount) <= LIMITS.routes,
  },
  {
    cel: "self.map(t, (has(t.mask) ? size(t.mask.fields) : 0) + (has(t.select) ? size(t.select.fields) : 0)" +
      ` + (has(t.remove) ? size(t.remove.fields) : 0)).sum() <= ${LIMITS.fields}`,
    message: `all mask, select and remove transformations together may name at most ${LIMITS.fields} fields`,
    check: (ts) => sumOf(ts, fieldCount) <= LIMITS.fields,
  },
  {
    cel: "self.map(t, (has(t.filter) ? size(t.filter.condition) : 0)" +
      " + (has(t.router) ? t.router.routes.map(r, size(r.condition)).sum() : 0)).sum()" +
      ` <= ${LIMITS.conditionsTotal}`,
    message: `all filter and route conditions together may have at most ${LIMITS.conditionsTotal} characters`,
    check: (ts) => sumOf(ts, conditionCharacters) <= LIMITS.conditionsTotal,
  },
];

/** Pattern of a Kubernetes quantity without a sign: negative quantities make no sense for resources. */
export const QUANTITY_PATTERN =
  "^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

/** A quantity, as an integer or an unsigned string (`500m`, `1Gi`). */
export const QuantitySchema = z.union([z.int(), text(LIMITS.quantity).regex(new RegExp(QUANTITY_PATTERN))])
  .meta({ "x-kubernetes-int-or-string": true });

/** A resource map; the pattern refuses negative strings, this rule negative integers (as the Go webhook did). */
const quantities = withRules(
  // maxProperties also bounds the CEL rules' estimated cost (the API server refuses unbounded maps).
  map(QuantitySchema, LIMITS.resources, LIMITS.labelKey),
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
  claims: list(
    z.object({ name: text(LIMITS.namespace), request: str(LIMITS.namespace) }),
    LIMITS.claims,
  ).optional(),
}).describe("Processor container resources; default requests 100m/128Mi, limits 500m/512Mi.");

/** corev1.Toleration. */
export const TolerationSchema = z.object({
  key: str(LIMITS.labelKey),
  operator: str(LIMITS.keyword),
  value: str(LIMITS.labelValue),
  effect: str(LIMITS.keyword),
  tolerationSeconds: z.int().optional(),
});

/**
 * corev1.Affinity, kept as an opaque object: the API server validates it when the operator writes
 * the Deployment (a bad affinity surfaces as DeploymentFailed naming the field). Only its keys are
 * bounded here: CEL cannot see into an object that keeps unknown fields, so its size is bounded by
 * the API server's request limit and, before the ConfigMap is written, by {@link checkSpecSize}.
 */
export const AffinitySchema = z.record(z.string(), z.unknown()).superRefine((m, ctx) => {
  const n = Object.keys(m).length;
  if (n > LIMITS.affinity) ctx.addIssue({ code: "custom", message: tooMany(n, LIMITS.affinity) });
}).meta({ "x-kubernetes-preserve-unknown-fields": true, maxProperties: LIMITS.affinity });

/** The DataFlow spec. */
export const DataFlowSpecSchema = z.object({
  source: SourceSpecSchema,
  sink: SinkSpecSchema,
  transformations: withRules(list(TransformationSpecSchema, LIMITS.transformations), chainTotals)
    .optional(),
  errors: SinkSpecSchema.optional().describe("Dead-letter sink for records that fail."),
  resources: ResourcesSchema.optional(),
  nodeSelector: map(text(LIMITS.labelValue), LIMITS.nodeSelector, LIMITS.labelKey).optional(),
  affinity: AffinitySchema.optional(),
  tolerations: list(TolerationSchema, LIMITS.tolerations).optional(),
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
  phase: z.string().optional().describe("Pending, Running, Error or Stopped."),
  message: z.string().optional(),
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

export { fieldPath };

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
