/** The fake API server's answers: JSON bodies and Status objects shaped like the real server's. */

/** Builds a JSON response. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** One field-level cause of a Status (what a 422 Invalid lists). */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** Builds a Status (failure) response. */
export function statusResponse(
  code: number,
  reason: string,
  message = reason,
  headers: Record<string, string> = {},
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] },
): Response {
  return jsonResponse(
    code,
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", code, reason, message, details },
    headers,
  );
}

/**
 * A request the server's rules refuse, thrown inside the fake and turned into a Status response
 * at its edge (so the rules read as plain checks).
 */
export class Refusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] },
  ) {
    super(message);
    this.name = "Refusal";
  }

  /** The Status response the real server sends for this refusal. */
  toResponse(): Response {
    return statusResponse(this.code, this.reason, this.message, {}, this.details);
  }
}
