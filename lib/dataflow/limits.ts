/**
 * The DataFlow API's size limits: the bounded string, list and map builders the schema uses (each
 * limit becomes a maxLength, maxItems or maxProperties in the CRD, with the API server's own
 * message at reconcile time), and the size check of spec.json before it is written to its
 * ConfigMap. Why and which: lib/dataflow/README.md, "Size limits".
 */
import { z } from "zod";
import { withRules } from "./rules.ts";
import { fieldPath } from "./field-path.ts";

/**
 * The size limits of the API, in characters (strings), items (lists) and keys (maps). Together they
 * bound the largest spec the API server admits so that its spec.json (the ConfigMap the operator
 * writes; at most 1 MiB of data) fits: tests/unit/dataflow/limits.test.ts builds that spec from the
 * generated CRD and measures it. Each is far beyond what a working pipeline needs; the big
 * free-form values (`avroSchema`, SQL `query`) have SecretRef or file twins for anything larger.
 */
export const LIMITS = {
  /** Kubernetes names and Secret keys (DNS subdomain), SQL table/catalog/schema names, user names, field names. */
  name: 253,
  /** A namespace (DNS label). */
  namespace: 63,
  /** A Kafka topic (Kafka's own limit). */
  topic: 249,
  /** One Kafka broker, `host:port` (a 253-character host name and a port). */
  broker: 259,
  /** Brokers of one Kafka block. */
  brokers: 32,
  /** Server URLs (Trino, Keycloak, schema registry). */
  url: 2048,
  /** A PostgreSQL connection string. */
  connectionString: 4096,
  /** File paths (TLS files, `avroSchemaFile`). */
  path: 1024,
  /** Plain passwords and client secrets (SecretRefs are the better place for them). */
  secret: 1024,
  /** A plain Keycloak token. */
  token: 8192,
  /** Short keywords: SASL `mechanism`, `format`, toleration `operator` and `effect`. */
  keyword: 32,
  /** A timestamp `format`. */
  timestampFormat: 128,
  /** A mask's `maskChar`. */
  maskChar: 16,
  /** One filter or route `condition`. */
  condition: 4096,
  /** All filter and route conditions of a spec together. */
  conditionsTotal: 65536,
  /** A source's SQL `query`. */
  query: 65536,
  /** An inline `avroSchema` (larger schemas: `avroSchemaSecretRef`, `avroSchemaFile` or the schema registry). */
  avroSchema: 262144,
  /** Transformations of a spec. */
  transformations: 64,
  /** Routes of one router, and of all routers of a spec together. */
  routes: 16,
  /** Field names of one mask, select or remove, and of all of them together. */
  fields: 256,
  /** A label key (`prefix/name`: 253 + 1 + 63), node selector and resource names. */
  labelKey: 317,
  /** A label value. */
  labelValue: 63,
  /** Entries of `nodeSelector`. */
  nodeSelector: 64,
  /** Entries of `tolerations`. */
  tolerations: 32,
  /** Entries of `resources.limits` and of `resources.requests`. */
  resources: 32,
  /** A quantity written as a string. */
  quantity: 64,
  /** Entries of `resources.claims`. */
  claims: 16,
  /** Keys of `affinity` (nodeAffinity, podAffinity, podAntiAffinity). */
  affinity: 3,
} as const;

/** Characters as the API server counts them for maxLength: code points, not UTF-16 units. */
export function characters(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The API server's message for a string over its maxLength (which counts characters, not bytes). */
export const tooLong = (max: number) => `Too long: may not be more than ${max} bytes`;
/** The API server's message for a list over its maxItems or a map over its maxProperties. */
export const tooMany = (n: number, max: number) => `Too many: ${n}: must have at most ${max} items`;

/** A string of at most `max` characters (maxLength in the CRD; the API server's message here). */
export function text(max: number, min?: { length: number; message?: string }) {
  const base = min ? z.string().min(min.length, min.message) : z.string();
  return base.superRefine((v, ctx) => {
    if (v.length > max && characters(v) > max) ctx.addIssue({ code: "custom", message: tooLong(max) });
  }).meta({ maxLength: max });
}

/** A list of at most `max` items (maxItems in the CRD). */
export function list<T extends z.ZodType>(item: T, max: number, min?: { length: number; message: string }) {
  const base = min ? z.array(item).min(min.length, min.message) : z.array(item);
  return base.superRefine((v, ctx) => {
    if (v.length > max) ctx.addIssue({ code: "custom", message: tooMany(v.length, max) });
  }).meta({ maxItems: max });
}

/**
 * A map of at most `max` entries (maxProperties in the CRD) whose keys have at most `keyMax`
 * characters: structural schemas cannot bound keys, so a CEL rule does.
 */
export function map<T extends z.ZodType>(value: T, max: number, keyMax: number) {
  const counted = z.record(z.string(), value).superRefine((m, ctx) => {
    const n = Object.keys(m).length;
    if (n > max) ctx.addIssue({ code: "custom", message: tooMany(n, max) });
  }).meta({ maxProperties: max });
  return withRules(counted, [{
    cel: `self.all(k, size(k) <= ${keyMax})`,
    message: `keys may not be more than ${keyMax} characters`,
    check: (m) => Object.keys(m).every((k) => k.length <= keyMax || characters(k) <= keyMax),
  }]);
}

/**
 * The most a ConfigMap's data may hold: the API server refuses more than 1 MiB of values (in UTF-8
 * bytes; the keys do not count).
 */
export const CONFIGMAP_DATA_LIMIT = 1_048_576;

/** Byte length of a string in UTF-8, without encoding it. */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair: one code point of 4 bytes
      i++;
    } else n += 3;
  }
  return n;
}

/** The fields of a spec that weigh most in its JSON: every string, and `affinity` as a whole. */
function weights(value: unknown, path: PropertyKey[], out: { path: string; bytes: number }[]): void {
  if (typeof value === "string" || (path.length === 2 && path[1] === "affinity")) {
    out.push({ path: fieldPath(path), bytes: utf8Bytes(JSON.stringify(value) ?? "") });
  } else if (Array.isArray(value)) value.forEach((v, i) => weights(v, [...path, i], out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) weights(v, [...path, k], out);
  }
}

/**
 * The size check of spec.json before the operator writes it to ConfigMap `configMap`: undefined
 * when it fits, else a message naming the largest fields. The CRD's limits make every spec of
 * ASCII text fit (tests/unit/dataflow/limits.test.ts); a spec that does not is one whose text
 * JSON writes in more bytes than characters (`é` 2, `€` 3, an emoji 4, a control character 6),
 * or with a large `affinity` (which the CRD cannot bound); without this check the API server
 * would refuse the ConfigMap with `[]: Too long: may not be more than 1048576 bytes`, naming
 * neither the DataFlow's field nor its size.
 */
export function checkSpecSize(json: string, configMap: string): string | undefined {
  const bytes = utf8Bytes(json);
  if (bytes <= CONFIGMAP_DATA_LIMIT) return undefined;
  const fields: { path: string; bytes: number }[] = [];
  weights(JSON.parse(json), ["spec"], fields);
  const largest = fields.sort((a, b) => b.bytes - a.bytes).slice(0, 3)
    .map((f) => `${f.path} (${f.bytes} bytes)`);
  return `spec: its JSON (spec.json) is ${bytes} bytes, more than the ${CONFIGMAP_DATA_LIMIT} bytes ` +
    `ConfigMap ${configMap} can hold; largest fields: ${largest.join(", ")}`;
}
