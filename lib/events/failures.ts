/**
 * What the recorder does about a failed write (reference §8 F31-F32): transient failures retry,
 * everything the server will refuse again is dropped (and counted) at once, and a 404 on a count
 * update re-creates the Event.
 */
import {
  AlreadyExistsError,
  ApiError,
  ConnectionError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  ServerError,
  TooManyRequestsError,
} from "../kube/errors.ts";
import type { DropReason } from "./metrics.ts";

/** The decision for one failed write. */
export type FailureAction =
  | { kind: "retry"; retryAfterMs: number }
  /** A create collided with a name someone else took: pick a new name and send again. */
  | { kind: "rename" }
  /** Our own unanswered create went through after all: treat the Event as created. */
  | { kind: "adopt" }
  /** The Event to update is gone (TTL or deleted): create it again under a new name. */
  | { kind: "recreate" }
  | { kind: "drop"; reason: DropReason; level: "debug" | "warning" | "error"; oncePerNamespace: boolean };

/** True when a 403 means the namespace is being deleted rather than missing RBAC. */
export function isNamespaceTerminating(err: ApiError): boolean {
  const causes = err.status?.details?.causes ?? [];
  return causes.some((c) => c.reason === "NamespaceTerminating") || /being terminated/.test(err.message);
}

/**
 * Classifies a failure.
 * @param creating whether the failed call was a create (POST) rather than a count update (PATCH)
 * @param unansweredCreate whether an earlier create with the same name got no answer
 */
export function classifyFailure(err: unknown, creating: boolean, unansweredCreate: boolean): FailureAction {
  if (err instanceof TooManyRequestsError || err instanceof ServerError || err instanceof ConnectionError) {
    return { kind: "retry", retryAfterMs: (err.retryAfterSeconds ?? 0) * 1000 };
  }
  if (err instanceof AlreadyExistsError && creating) {
    return unansweredCreate ? { kind: "adopt" } : { kind: "rename" };
  }
  if (err instanceof NotFoundError) {
    // A PATCH 404 is the Event expiring; a POST 404 is the namespace being gone.
    return creating
      ? { kind: "drop", reason: "namespace_missing", level: "warning", oncePerNamespace: true }
      : { kind: "recreate" };
  }
  if (err instanceof ForbiddenError) {
    return isNamespaceTerminating(err)
      ? { kind: "drop", reason: "namespace_terminating", level: "debug", oncePerNamespace: false }
      : { kind: "drop", reason: "forbidden", level: "error", oncePerNamespace: true };
  }
  if (err instanceof InvalidError || err instanceof ApiError) {
    return { kind: "drop", reason: "rejected", level: "error", oncePerNamespace: false };
  }
  return { kind: "drop", reason: "internal", level: "error", oncePerNamespace: false };
}

/** The field causes of a 422, for the error log (field and message only, never values we did not build). */
export function describeCauses(err: unknown): string {
  if (!(err instanceof InvalidError)) return "";
  return err.causes.map((c) => `${c.field ?? "?"}: ${c.message ?? c.reason ?? ""}`).join("; ");
}
