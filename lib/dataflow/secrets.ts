/**
 * Secret references: finding them in a spec, checking them against Secret *metadata* (the
 * operator never reads a secret value), and where the processor pod's init container finds their
 * values (mounted Secret files). Which plain field each one fills comes from the schema
 * (secret-fields.ts), so this module needs no schema at run time: the operator's caches use it
 * without loading the schema.
 *
 * Which keys a Secret holds is read from its managedFields (`f:data` / `f:stringData` entries),
 * which every API write records; so even the key check needs no secret value. A Secret whose
 * managedFields were cleared cannot be key-checked and is trusted (kubelet then reports a missing
 * key on the pod).
 */
import type { DataFlowSpec, SecretRef } from "./schema.ts";

/** Where the referenced Secrets are mounted in the init container (`<dir>/<secret>/<key>`). */
export const SECRETS_DIR = "/var/run/dataflow/secrets";

/** The file holding a SecretRef's value, as the kubelet projects it: `<dir>/<secret>/<key>`. */
export function secretFilePath(secretName: string, key: string, dir: string = SECRETS_DIR): string {
  return `${dir}/${secretName}/${key}`;
}

/** One SecretRef found in a spec. */
export interface SecretRefUse {
  /** Its field path, e.g. `spec.source.kafka.brokersSecretRef`. */
  field: string;
  ref: SecretRef;
}

/** Called with each `*SecretRef` object, its field path, and the object holding it under `key`. */
export type RefVisitor = (
  ref: SecretRef & Record<string, unknown>,
  field: string,
  parent: Record<string, unknown>,
  key: string,
) => void;

/**
 * Walks the parts of the spec that are in use: for an object with a `type`, only the block named
 * by the type (a `kafka` block on a `postgresql` source is ignored, as in the Go operator). The
 * error sink's references are included (the Go operator forgot them).
 * @param visit called with each `*SecretRef` object; may mutate it and its parent
 */
function walk(node: unknown, path: string, visit: RefVisitor) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => walk(item, `${path}[${i}]`, visit));
    return;
  }
  if (!node || typeof node !== "object") return;
  const obj = node as Record<string, unknown>;
  const active = typeof obj.type === "string" ? obj.type : undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (active !== undefined && k !== active && k !== "type") continue;
    if (k.endsWith("SecretRef") && v && typeof v === "object") {
      visit(v as SecretRef & Record<string, unknown>, `${path}.${k}`, obj, k);
    } else walk(v, `${path}.${k}`, visit);
  }
}

/** The SecretRefs of the parts of a (validated) spec that are in use. */
export function collectSecretRefs(spec: DataFlowSpec): SecretRefUse[] {
  const uses: SecretRefUse[] = [];
  for (const part of ["source", "sink", "transformations", "errors"] as const) {
    walk(spec[part], `spec.${part}`, (ref, field) => uses.push({ field, ref: { ...ref } }));
  }
  return uses;
}

/**
 * Visits every `*SecretRef` of the parts of a spec in use (as {@link collectSecretRefs} finds them)
 * with the object holding it, so a renderer can fill the ref's plain twin in place.
 */
export function forEachSecretRef(spec: Record<string, unknown>, visit: RefVisitor): void {
  for (const part of ["source", "sink", "transformations", "errors"]) walk(spec[part], `spec.${part}`, visit);
}

/**
 * The spec as the ConfigMap's spec.json holds it: references only, every used `*SecretRef` as
 * `{name, key}` (its `namespace`, always the DataFlow's own, dropped). Never a value.
 */
export function configMapSpec(spec: DataFlowSpec): DataFlowSpec {
  // A JSON round trip (the spec is JSON): several times faster than structuredClone on Bun.
  const copy = JSON.parse(JSON.stringify(spec)) as DataFlowSpec;
  forEachSecretRef(copy as Record<string, unknown>, (ref) => {
    delete ref.namespace;
  });
  return copy;
}

/** What the operator knows about a Secret: metadata only. */
export interface SecretMeta {
  name: string;
  resourceVersion: string;
  /** The data keys, from managedFields; undefined when unknown. */
  keys?: readonly string[];
}

/** The data keys a Secret's managedFields record, or undefined when there are none. */
export function secretKeysFromManagedFields(
  managedFields: { fieldsV1?: Record<string, unknown> }[] | undefined,
): string[] | undefined {
  if (!managedFields?.length) return undefined;
  const keys = new Set<string>();
  for (const entry of managedFields) {
    for (const top of ["f:data", "f:stringData"]) {
      const fields = entry.fieldsV1?.[top];
      if (!fields || typeof fields !== "object") continue;
      for (const f of Object.keys(fields)) if (f.startsWith("f:")) keys.add(f.slice(2));
    }
  }
  return [...keys].sort();
}

/** One Secret to mount: exactly the referenced keys. */
export interface SecretMount {
  secretName: string;
  /** The pod volume name (`secret-<n>`, stable for a given set of Secrets). */
  volumeName: string;
  keys: string[];
}

/** The outcome of {@link resolveSecretRefs}. */
export type SecretResolution =
  | { ok: true; mounts: SecretMount[]; versions: Record<string, string> }
  | { ok: false; message: string };

/**
 * Checks every reference against the Secrets of the DataFlow's namespace. Refused: a reference to
 * another namespace (it would let a DataFlow author read any namespace's secrets through the
 * operator), a missing Secret, a missing key. The message names every failing reference.
 * @param lookup the metadata of a Secret of the DataFlow's namespace (from the cache)
 */
export function resolveSecretRefs(
  uses: SecretRefUse[],
  namespace: string,
  lookup: (name: string) => SecretMeta | undefined,
): SecretResolution {
  const problems: string[] = [];
  const bySecret = new Map<string, Set<string>>();
  const versions: Record<string, string> = {};
  for (const { field, ref } of uses) {
    if (ref.namespace && ref.namespace !== namespace) {
      problems.push(
        `${field}: Secret ${ref.namespace}/${ref.name} is in another namespace; ` +
          `cross-namespace secret references are refused (use a Secret in namespace ${namespace})`,
      );
      continue;
    }
    const secret = lookup(ref.name);
    if (!secret) {
      problems.push(`${field}: Secret ${namespace}/${ref.name} not found`);
      continue;
    }
    if (secret.keys && !secret.keys.includes(ref.key)) {
      problems.push(`${field}: key ${ref.key} not found in Secret ${namespace}/${ref.name}`);
      continue;
    }
    versions[ref.name] = secret.resourceVersion;
    if (!bySecret.has(ref.name)) bySecret.set(ref.name, new Set());
    bySecret.get(ref.name)!.add(ref.key);
  }
  if (problems.length) return { ok: false, message: problems.join("; ") };
  const mounts = [...bySecret.keys()].sort().map((secretName, i) => ({
    secretName,
    volumeName: `secret-${i}`,
    keys: [...bySecret.get(secretName)!].sort(),
  }));
  return { ok: true, mounts, versions };
}

/** The names of the Secrets a spec references in its own namespace (for the Secret watch). */
export function referencedSecretNames(spec: DataFlowSpec, namespace: string): string[] {
  return [
    ...new Set(
      collectSecretRefs(spec).filter((u) => !u.ref.namespace || u.ref.namespace === namespace).map((u) =>
        u.ref.name
      ),
    ),
  ];
}
