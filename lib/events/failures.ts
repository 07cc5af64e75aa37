/**
 * What the recorder does about a failed write: transient failures (429, 5xx, no or a broken answer) retry
 * with full-jitter exponential backoff, everything the server will refuse again is dropped (and
 * counted) at once, and a 404 on a count update re-creates the Event (docs/behaviour/events.md,
 * "Failures").
 */
import {
  AlreadyExistsError,
  ApiError,
  ConnectionError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
  ResponseBodyError,
  ServerError,
  TooManyRequestsError,
} from "../kube/errors.ts";
import { logger } from "../observe/log.ts";
import { exponentialDelay } from "../time/backoff.ts";
import type { DropReason } from "./metrics.ts";
import { describeRef } from "./reference.ts";
import type { Series } from "./series.ts";

const log = logger("events");

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
 * True when the server may have carried out a write although the call failed: no answer, an
 * answer whose body broke off, or a 5xx (a server timeout may still be processing it).
 */
function outcomeUnknown(err: unknown): boolean {
  return err instanceof ConnectionError || err instanceof ResponseBodyError || err instanceof ServerError;
}

/**
 * Classifies a failure.
 * @param creating whether the failed call was a create (POST) rather than a count update (PATCH)
 * @param unansweredCreate whether an earlier create with the same name may have gone through unanswered
 */
export function classifyFailure(err: unknown, creating: boolean, unansweredCreate: boolean): FailureAction {
  // Transient: a 429, or a write whose outcome is unknown (a broken answer is a lost answer).
  if (err instanceof TooManyRequestsError || outcomeUnknown(err)) {
    return { kind: "retry", retryAfterMs: ((err as ApiError).retryAfterSeconds ?? 0) * 1000 };
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

/** What {@link applyFailure} needs from the writer. */
export interface FailureContext {
  now: number;
  settings: { retryBaseMs: number; retryMaxDelayMs: number; retryTotalMs: number };
  random: () => number;
  newName(s: Series): string;
  /** Drops the series' unwritten occurrences, counted under `reason`. */
  drop(s: Series, reason: DropReason): void;
  /** True the first time `key` (reason + namespace) is seen: such failures are logged loudly once. */
  firstInNamespace(key: string): boolean;
}

/** Carries out a {@link FailureAction} on a series: schedules the retry, adopts, or drops and logs. */
export function applyFailure(
  s: Series,
  err: unknown,
  creating: boolean,
  action: FailureAction,
  ctx: FailureContext,
): void {
  const now = ctx.now;
  const object = describeRef(s.ref);
  switch (action.kind) {
    case "retry":
    case "rename": {
      // Its create may be on the server: an AlreadyExists for this name is then our own, adopted.
      if (outcomeUnknown(err) && creating) s.unansweredCreate = true;
      if (action.kind === "rename") s.name = ctx.newName(s);
      s.failingSince ??= now;
      s.attempt++;
      const { retryBaseMs, retryMaxDelayMs, retryTotalMs } = ctx.settings;
      // Full jitter: a random wait up to the doubled cap, so replicas do not retry in step.
      const backoff = action.kind === "rename"
        ? 0
        : ctx.random() * exponentialDelay(s.attempt - 1, retryBaseMs, retryMaxDelayMs);
      const wait = Math.max(action.kind === "retry" ? action.retryAfterMs : 0, backoff);
      if (now + wait - s.failingSince > retryTotalMs || s.attempt > 50) {
        log.warning("giving up on Event for {object} after {attempts} attempts: {error}", {
          object,
          attempts: s.attempt,
          error: String(err),
        });
        ctx.drop(s, "retry_exhausted");
        return;
      }
      s.dueAt = now + wait;
      log.debug("Event write for {object} failed; retrying in {waitMs} ms: {error}", {
        object,
        waitMs: Math.round(wait),
        error: String(err),
      });
      return;
    }
    case "adopt":
      s.created = true; // our unanswered create went through; the next update sets the exact count
      s.serverCount = 0;
      s.attempt = 0;
      s.failingSince = undefined;
      return;
    case "recreate":
    case "drop": {
      const reason: DropReason = action.kind === "drop" ? action.reason : "rejected";
      const level = action.kind === "drop" ? action.level : "error";
      const once = action.kind === "drop" && action.oncePerNamespace;
      const first = ctx.firstInNamespace(`${reason}\u0000${s.namespace}`) || !once;
      const props = {
        object,
        namespace: s.namespace,
        reason: s.reason,
        error: String(err),
        causes: describeCauses(err),
      };
      if (reason === "forbidden" && first) {
        log.error(
          "cannot write Events in namespace {namespace}: {error}. Grant create and patch on events (core group); " +
            "further failures in this namespace are logged at debug level",
          props,
        );
      } else if (first && level === "error") {
        log.error("Event for {object} was refused and dropped: {error} {causes}", props);
      } else if (first && level === "warning") {
        log.warning("Event for {object} dropped ({namespace}): {error}", props);
      } else {
        log.debug("Event for {object} dropped ({namespace}): {error}", props);
      }
      ctx.drop(s, reason);
    }
  }
}
