/**
 * Typed errors of the Kubernetes API, built from the `Status` body the API server returns.
 * The reason is checked first and the HTTP code only when the reason is unknown, like client-go's
 * `IsNotFound` and friends, so a 429 from a proxy without a Status body still types correctly.
 */
import type { Status, StatusCause } from "kubernetes-types/meta/v1";

/** Any error raised by a request to the API server (or on the way to it). */
export class ApiError extends Error {
  /** HTTP status code; 0 when no response arrived. */
  readonly code: number;
  /** The Status reason (`NotFound`, `Conflict`, ...), or "" when the body had none. */
  readonly reason: string;
  /** The full Status object when the server sent one. */
  readonly status?: Status;
  /** Verb and path of the failed request, never its body. */
  readonly request?: string;
  /** Seconds the server asked us to wait (Retry-After header or details.retryAfterSeconds). */
  readonly retryAfterSeconds?: number;

  constructor(
    message: string,
    init: {
      code: number;
      reason?: string;
      status?: Status;
      request?: string;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.reason = init.reason ?? "";
    this.status = init.status;
    this.request = init.request;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** 404: the object (or the resource type) does not exist. */
export class NotFoundError extends ApiError {}
/** 409 Conflict: a stale resourceVersion or a server-side apply field conflict. */
export class ConflictError extends ApiError {}
/** 409 AlreadyExists: create of a name that is taken. */
export class AlreadyExistsError extends ApiError {}
/** 410 Gone/Expired: the resourceVersion or continue token is too old; relist. */
export class GoneError extends ApiError {}
/** 401: the credentials were refused. */
export class UnauthorizedError extends ApiError {}
/** 403: RBAC (or admission) denied the request. */
export class ForbiddenError extends ApiError {}
/** 422: the object failed validation; {@link InvalidError.causes} names the fields. */
export class InvalidError extends ApiError {
  /** The field-level causes from `details.causes`. */
  get causes(): StatusCause[] {
    return this.status?.details?.causes ?? [];
  }
}
/** 400 BadRequest. */
export class BadRequestError extends ApiError {}
/** 429: throttled by API Priority and Fairness (or a proxy); honour {@link ApiError.retryAfterSeconds}. */
export class TooManyRequestsError extends ApiError {}
/** 5xx from the server, or a timeout it reported. */
export class ServerError extends ApiError {}
/** No response: connection refused or reset, TLS failure, DNS, or a transport-level timeout. */
export class ConnectionError extends ApiError {}

const byReason: Record<string, typeof ApiError> = {
  NotFound: NotFoundError,
  Conflict: ConflictError,
  AlreadyExists: AlreadyExistsError,
  Gone: GoneError,
  Expired: GoneError,
  Unauthorized: UnauthorizedError,
  Forbidden: ForbiddenError,
  Invalid: InvalidError,
  BadRequest: BadRequestError,
  TooManyRequests: TooManyRequestsError,
  InternalError: ServerError,
  ServerTimeout: ServerError,
  Timeout: ServerError,
  ServiceUnavailable: ServerError,
};

const byCode: Record<number, typeof ApiError> = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  410: GoneError,
  422: InvalidError,
  429: TooManyRequestsError,
};

function isStatus(body: unknown): body is Status {
  return typeof body === "object" && body !== null && (body as { kind?: unknown }).kind === "Status";
}

/**
 * Builds the typed error for a failed response.
 * @param code HTTP status code
 * @param body the parsed JSON body, or the raw text when it was not JSON
 * @param request "VERB path" for the message
 * @param retryAfterHeader the Retry-After header, if any
 */
export function errorFromResponse(
  code: number,
  body: unknown,
  request?: string,
  retryAfterHeader?: string | null,
): ApiError {
  const status = isStatus(body) ? body : undefined;
  const reason = status?.reason ?? "";
  const headerSeconds = retryAfterHeader ? Number.parseInt(retryAfterHeader, 10) : NaN;
  const retryAfterSeconds = Number.isFinite(headerSeconds)
    ? headerSeconds
    : status?.details?.retryAfterSeconds;
  const Kind = byReason[reason] ?? byCode[code] ?? (code >= 500 ? ServerError : ApiError);
  const text = status?.message ??
    (typeof body === "string" && body.trim() ? body.trim().slice(0, 300) : `HTTP ${code}`);
  const message = request ? `${request}: ${text}` : text;
  return new Kind(message, { code: status?.code ?? code, reason, status, request, retryAfterSeconds });
}

/** Builds the typed error for an ERROR event inside a watch stream. */
export function errorFromStatus(status: Status, request?: string): ApiError {
  return errorFromResponse(status.code ?? 500, status, request);
}

/** True for errors worth retrying for an idempotent request: 429, 5xx and no response. */
export function isRetryable(err: unknown): boolean {
  return err instanceof TooManyRequestsError || err instanceof ServerError || err instanceof ConnectionError;
}

/** True when the error is a 404. */
export const isNotFound = (err: unknown): err is NotFoundError => err instanceof NotFoundError;
/** True when the error is a 409 Conflict (not AlreadyExists). */
export const isConflict = (err: unknown): err is ConflictError => err instanceof ConflictError;
/** True when the error is a 409 AlreadyExists. */
export const isAlreadyExists = (err: unknown): err is AlreadyExistsError => err instanceof AlreadyExistsError;
/** True when the error is a 410 Gone/Expired. */
export const isGone = (err: unknown): err is GoneError => err instanceof GoneError;
/** True when the error is a 403. */
export const isForbidden = (err: unknown): err is ForbiddenError => err instanceof ForbiddenError;

/** Configuration problems: a missing kubeconfig, an unknown context, a bad certificate, a failing exec plugin. */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}
