/**
 * The reconciler contract, as small as controller-runtime's: a key in, a result out (done, run
 * again after a delay, or an error), and the classification of errors the controller acts on.
 */
import { ForbiddenError, isRetryable, UnauthorizedError } from "../kube/errors.ts";
import type { Logger } from "../observe/log.ts";

/** What a reconciler receives for one key. */
export interface ReconcileContext {
  /** The queue key: "namespace/name", or "name" for cluster-scoped objects. */
  key: string;
  /** The key's namespace (absent for cluster-scoped objects). */
  namespace?: string;
  /** The key's name. */
  name: string;
  /**
   * Aborted when the work must stop at once: leadership was lost, or graceful shutdown ran out
   * of time. Pass it to every API call. A normal shutdown lets the reconcile finish.
   */
  signal: AbortSignal;
  /** A logger whose lines carry the controller name, the key and {@link ReconcileContext.reconcileId}. */
  log: Logger;
  /** A short random id tying this run's log lines together. */
  reconcileId: string;
  /** Failures of this key since its last success (0 on a first or post-success run). */
  retries: number;
}

/**
 * Done (`undefined`); run again after a delay (`requeueAfterMs`: not rate-limited, the backoff is
 * reset); or run again at the key's backoff without counting an error (`requeue: true`: waiting on
 * something no watch reports, as controller-runtime's `Result{Requeue: true}`).
 */
export type ReconcileResult = void | { requeueAfterMs: number } | { requeue: true };

/** Reconciles one key. Throw to back off and retry; throw a {@link TerminalError} to give up on the key. */
export type Reconciler = (ctx: ReconcileContext) => Promise<ReconcileResult>;

/** An error that retrying will not fix (invalid spec, ...): the key is not requeued until it changes. */
export class TerminalError extends Error {
  /**
   * An error with `message`.
   * @param options.cause the error that made the key hopeless, if any
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** Whether `err` or one of its causes (at most ten deep) satisfies `test`. */
function inCauses(err: unknown, test: (e: unknown) => boolean): boolean {
  for (let e = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (test(e)) return true;
  }
  return false;
}

/** Whether `err` is, or wraps (through `cause`), a {@link TerminalError}. */
export function isTerminalError(err: unknown): boolean {
  return inCauses(err, (e) => e instanceof TerminalError);
}

/**
 * Whether a thrown value is a programming error rather than an operational failure: the JS
 * counterpart of a Go panic (TypeError, ReferenceError, RangeError, SyntaxError, EvalError, or a
 * thrown non-Error). Counted in `controller_runtime_reconcile_panics_total`.
 */
export function isPanic(err: unknown): boolean {
  return !(err instanceof Error) || err instanceof TypeError || err instanceof ReferenceError ||
    err instanceof RangeError || err instanceof SyntaxError || err instanceof EvalError;
}

/**
 * Whether an error says something about the API server or the operator's access, not about the
 * object: no answer, 5xx, 429, 401, 403. Once they clear, every key that failed on them can succeed.
 */
export function failedOnApi(err: unknown): boolean {
  return inCauses(
    err,
    (e) => isRetryable(e) || e instanceof ForbiddenError || e instanceof UnauthorizedError,
  );
}
