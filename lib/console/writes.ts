/**
 * Create, edit and delete of DataFlows, sent with the identity the caller passes (the user's own:
 * see identity.ts), so the API server's RBAC and validation decide. Its refusals come back as
 * {@link FieldError}s: each `details.causes[]` entry of a 422 with the field it names, the unknown
 * fields of a strict-decoding 400, and anything else as a message for the whole form.
 */
import { parse, type YAMLParseError } from "yaml";
import {
  AlreadyExistsError,
  ApiError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  InvalidError,
  type KubeClient,
  NotFoundError,
  UnauthorizedError,
} from "../kube/mod.ts";
import { DataFlowType } from "../dataflow/names.ts";
import { API_VERSION, type DataFlow, KIND } from "../dataflow/schema.ts";
import { errorText } from "./format.ts";

/** The field manager of the console's writes (managedFields show who changed what). */
export const CONSOLE_FIELD_MANAGER = "dataflow-console";

/** One refusal: of a field (API spelling, `spec.source.type`), or of the whole form. */
export interface FieldError {
  field?: string;
  message: string;
}

/** The result of a write. */
export type WriteOutcome = { ok: true; dataflow: DataFlow } | { ok: false; errors: FieldError[] };

/** The API server's refusal as field errors. */
export function errorsOf(err: unknown): FieldError[] {
  if (err instanceof InvalidError) {
    const causes = err.causes
      .filter((c) => c.message)
      .map((c) => ({
        field: c.field && c.field !== "<nil>" ? c.field : undefined,
        message: c.message!,
      }));
    return causes.length ? causes : [{ message: err.detail }];
  }
  if (err instanceof BadRequestError) {
    const unknown = [...err.detail.matchAll(/(unknown|duplicate) field "([^"]+)"/g)];
    if (unknown.length) return unknown.map((m) => ({ field: m[2], message: `${m[1]} field "${m[2]}"` }));
    return [{ message: err.detail }];
  }
  if (err instanceof AlreadyExistsError) return [{ field: "metadata.name", message: err.detail }];
  if (err instanceof ConflictError) {
    return [{
      message: `The DataFlow changed since this form was opened (${err.detail}). ` +
        "Open the edit page again to start from its current version.",
    }];
  }
  if (err instanceof ForbiddenError) return [{ message: `Forbidden by the API server: ${err.detail}` }];
  if (err instanceof UnauthorizedError) {
    return [{ message: "The API server refused the credentials (401): sign in again with a valid token." }];
  }
  if (err instanceof NotFoundError) return [{ message: `Not found: ${err.detail}` }];
  if (err instanceof ApiError) return [{ message: err.detail }];
  return [{ message: errorText(err) }];
}

/** Parses the form's YAML or JSON into a DataFlow-shaped object, or says where it is wrong. */
export function parseDataFlowText(
  text: string,
): { ok: true; value: DataFlow } | { ok: false; errors: FieldError[] } {
  let value: unknown;
  try {
    value = parse(text, { prettyErrors: true });
  } catch (err) {
    const e = err as YAMLParseError;
    const line = e.linePos?.[0]?.line;
    return {
      ok: false,
      errors: [{ message: `Not valid YAML${line ? ` (line ${line})` : ""}: ${e.message}` }],
    };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, errors: [{ message: "Expected one DataFlow object (a YAML mapping)." }] };
  }
  const obj = value as DataFlow;
  const errors: FieldError[] = [];
  obj.apiVersion ??= API_VERSION;
  obj.kind ??= KIND;
  if (obj.apiVersion !== API_VERSION) errors.push({ field: "apiVersion", message: `must be ${API_VERSION}` });
  if (obj.kind !== KIND) errors.push({ field: "kind", message: `must be ${KIND}` });
  if (!obj.metadata || typeof obj.metadata !== "object") {
    errors.push({ field: "metadata", message: "required: metadata.name and metadata.namespace" });
  } else if (!obj.metadata.namespace) {
    errors.push({ field: "metadata.namespace", message: "Required value: the namespace of the DataFlow" });
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: obj };
}

/** Creates a DataFlow from the form's text. */
export async function createDataFlow(client: KubeClient, text: string): Promise<WriteOutcome> {
  const parsed = parseDataFlowText(text);
  if (!parsed.ok) return parsed;
  const body = parsed.value;
  try {
    const created = await client.create<DataFlow>(DataFlowType, body, {
      namespace: body.metadata.namespace,
      fieldManager: CONSOLE_FIELD_MANAGER,
      fieldValidation: "Strict",
    });
    return { ok: true, dataflow: created };
  } catch (err) {
    return { ok: false, errors: errorsOf(err) };
  }
}

/**
 * Replaces a DataFlow's spec, labels and annotations from the form's text. The rest of the stored
 * object (finalizers, owner references, status) is kept: the body is the current object with
 * those parts swapped in, sent with the resourceVersion the form was opened at, so an edit made
 * meanwhile by someone else is refused (409) instead of overwritten.
 */
export async function updateDataFlow(
  client: KubeClient,
  target: { namespace: string; name: string },
  text: string,
): Promise<WriteOutcome> {
  const parsed = parseDataFlowText(text);
  if (!parsed.ok) return parsed;
  const edit = parsed.value;
  const errors: FieldError[] = [];
  if (edit.metadata.name !== target.name) {
    errors.push({ field: "metadata.name", message: `cannot be changed here (this is ${target.name})` });
  }
  if (edit.metadata.namespace !== target.namespace) {
    errors.push({
      field: "metadata.namespace",
      message: `cannot be changed here (this is ${target.namespace})`,
    });
  }
  if (errors.length) return { ok: false, errors };
  try {
    const current = await client.get<DataFlow>(DataFlowType, target.name, { namespace: target.namespace });
    const body: DataFlow = {
      ...current,
      metadata: {
        ...current.metadata,
        labels: edit.metadata.labels,
        annotations: edit.metadata.annotations,
        resourceVersion: edit.metadata.resourceVersion ?? current.metadata.resourceVersion,
      },
      spec: edit.spec,
    };
    delete body.metadata.managedFields;
    const updated = await client.replace<DataFlow>(DataFlowType, body, {
      namespace: target.namespace,
      fieldManager: CONSOLE_FIELD_MANAGER,
      fieldValidation: "Strict",
    });
    return { ok: true, dataflow: updated };
  } catch (err) {
    return { ok: false, errors: errorsOf(err) };
  }
}

/**
 * Deletes a DataFlow; with `uid` (what the confirmation page showed) only that very object, not one
 * created meanwhile under the same name.
 */
export async function deleteDataFlow(
  client: KubeClient,
  target: { namespace: string; name: string; uid?: string },
): Promise<{ ok: true } | { ok: false; errors: FieldError[] }> {
  try {
    await client.delete(DataFlowType, target.name, {
      namespace: target.namespace,
      preconditions: target.uid ? { uid: target.uid } : undefined,
    });
    return { ok: true };
  } catch (err) {
    return { ok: false, errors: errorsOf(err) };
  }
}
