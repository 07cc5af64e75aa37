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
  /** Verb and path of the failed request, never its body (for debug logs). */
  readonly request?: string;
  /**
   * What went wrong in the server's own words, without the verb and path: the Status message
   * (`Deployment.apps "x" is invalid: ...`), a one-line summary of any other body
   * (`HTTP 502 from https://host:6443: Bad Gateway`), or why no answer came. For messages meant
   * for users (DataFlow status, Events); {@link ApiError.message} is `<request>: <detail>`.
   */
  readonly detail: string;
  /** Seconds the server asked us to wait (Retry-After header or details.retryAfterSeconds). */
  readonly retryAfterSeconds?: number;

  /** An error of `code` (0: no response); `message` should start with `<request>: `. */
  constructor(
    message: string,
    init: {
      code: number;
      reason?: string;
      status?: Status;
      request?: string;
      retryAfterSeconds?: number;
      cause?: unknown;
      /** Defaults to the message without a leading `<request>: `. */
      detail?: string;
    },
  ) {
    super(message, { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.reason = init.reason ?? "";
    this.status = init.status;
    this.request = init.request;
    const prefix = init.request ? `${init.request}: ` : "";
    this.detail = init.detail ??
      (prefix && message.startsWith(prefix) ? message.slice(prefix.length) : message);
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
/**
 * A response arrived but its body did not: the connection broke off while the body was read, or
 * the body is not the JSON the API server sends. {@link ApiError.code} is the response's HTTP
 * status. Transient like a {@link ConnectionError}: whether the server acted on a write is unknown.
 */
export class ResponseBodyError extends ApiError {}

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

/** Longest summary of a body that is not a Status (characters, before the ellipsis). */
export const BODY_SUMMARY_LENGTH = 200;

const HTML_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const n = name[1] === "x" || name[1] === "X"
        ? parseInt(name.slice(2), 16)
        : parseInt(name.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return HTML_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function oneLine(text: string, max = BODY_SUMMARY_LENGTH): string {
  // deno-lint-ignore no-control-regex
  const flat = text.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max).trimEnd()}…` : flat;
}

/**
 * One line saying what a body that is not a Kubernetes Status said: an HTML page by its
 * `<title>` (else its first heading, else its text without markup), plain text or other JSON by
 * its first {@link BODY_SUMMARY_LENGTH} characters, whitespace collapsed; "" when it said nothing.
 */
export function summarizeBody(body: unknown): string {
  if (body === undefined || body === null) return "";
  let text: string;
  if (typeof body === "string") text = body;
  else {
    try {
      text = JSON.stringify(body) ?? "";
    } catch {
      text = String(body);
    }
  }
  if (/^\s*</.test(text) && /<\/?(html|head|body|title|h1|p|div|center|pre)\b/i.test(text)) {
    const pick = (tag: string) => {
      const m = new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}\\s*>`, "i").exec(text);
      return m ? oneLine(decodeEntities(m[1].replace(/<[^>]*>/g, " "))) : "";
    };
    const withoutScripts = text.replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, " ");
    return pick("title") || pick("h1") ||
      oneLine(decodeEntities(withoutScripts.replace(/<!--[\s\S]*?-->/g, " ").replace(/<[^>]*>/g, " ")));
  }
  return oneLine(text);
}

/**
 * Builds the typed error for a failed response. Its {@link ApiError.detail} is the Status
 * message; for any other body (an HTML page from a proxy, plain text) one line,
 * `HTTP 502 from <server>: <title or first 200 characters>`.
 * @param code HTTP status code
 * @param body the parsed JSON body, or the raw text when it was not JSON
 * @param request "VERB path" for the message
 * @param retryAfterHeader the Retry-After header, if any
 * @param server the server that answered (e.g. `https://10.0.0.1:6443`), named in a summary of a
 *   non-Status body, since that answer may come from a proxy in between
 */
export function errorFromResponse(
  code: number,
  body: unknown,
  request?: string,
  retryAfterHeader?: string | null,
  server?: string,
): ApiError {
  const status = isStatus(body) ? body : undefined;
  const reason = status?.reason ?? "";
  const headerSeconds = retryAfterHeader ? Number.parseInt(retryAfterHeader, 10) : NaN;
  const retryAfterSeconds = Number.isFinite(headerSeconds)
    ? headerSeconds
    : status?.details?.retryAfterSeconds;
  const Kind = byReason[reason] ?? byCode[code] ?? (code >= 500 ? ServerError : ApiError);
  let detail = status?.message?.trim() || "";
  if (!detail) {
    const said = summarizeBody(status ? status.reason : body);
    detail = `HTTP ${code}${server ? ` from ${server}` : ""}${said ? `: ${said}` : ""}`;
  }
  const message = request ? `${request}: ${detail}` : detail;
  return new Kind(message, {
    code: status?.code ?? code,
    reason,
    status,
    request,
    retryAfterSeconds,
    detail,
  });
}

/** Builds the typed error for an ERROR event inside a watch stream. */
export function errorFromStatus(status: Status, request?: string): ApiError {
  return errorFromResponse(status.code ?? 500, status, request);
}

/** True for errors worth retrying for an idempotent request: 429, 5xx, no response and a broken body. */
export function isRetryable(err: unknown): boolean {
  return err instanceof TooManyRequestsError || err instanceof ServerError ||
    err instanceof ConnectionError || err instanceof ResponseBodyError;
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

/**
 * A namespaced resource was addressed by name without a namespace. The client never fills one in
 * (see docs/behaviour/client.md, "Scope"): a usage error, so it extends TypeError and a controller
 * reports it as a bug rather than retrying it as a transient failure.
 */
export class NamespaceRequiredError extends TypeError {
  /** The verb that was refused (`get`, `create`, ...). */
  readonly verb: string;
  /** The kind of the resource, e.g. `ConfigMap`. */
  readonly kind: string;
  /** The object's name, when the call named one. */
  readonly objectName?: string;

  /** The refusal of `verb` on the resource `kind` (`plural`), naming the object when there is one. */
  constructor(verb: string, kind: string, plural: string, objectName?: string) {
    const from = verb === "create" || verb === "replace" || verb === "apply"
      ? "the namespace option or metadata.namespace"
      : "the namespace option";
    super(
      `${verb} ${kind}${objectName ? ` "${objectName}"` : ""}: ${plural} are namespaced; ` +
        `set ${from} (the client fills in no namespace)`,
    );
    this.name = "NamespaceRequiredError";
    this.verb = verb;
    this.kind = kind;
    this.objectName = objectName;
  }
}

/** Configuration problems: a missing kubeconfig, an unknown context, a bad certificate, a failing exec plugin. */
export { ConfigError } from "../observe/config-error.ts";
