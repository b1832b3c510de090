/**
 * Every failure code SPEC §14 names, with the HTTP status it travels under, and our own:
 * `rate_limited` (429, the auth provider's login throttle), `internal_error` (500, a bug), and
 * the two RFC 9110 answers of the domain services SPEC §15 names by status only:
 * `precondition_failed` (412, a stale `If-Match`) and `range_not_satisfiable` (416).
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_app_id: 400,
  unsupported_version: 400,
  invalid_signature: 401,
  stale_timestamp: 401,
  invalid_token: 401,
  wrong_provider: 403,
  app_suspended: 403,
  forbidden: 403,
  unknown_app: 404,
  unknown_namespace: 404,
  unknown_provider: 404,
  unknown_registry: 404,
  not_found: 404,
  nonce_reused: 409,
  proof_reused: 409,
  namespace_taken: 409,
  conflict: 409,
  gone: 410,
  app_migrated: 410,
  precondition_failed: 412,
  payload_too_large: 413,
  range_not_satisfiable: 416,
  unsupported_tier: 422,
  unsupported_region: 422,
  storage_limit_exceeded: 422,
  quota_exceeded: 422,
  rate_limited: 429,
  internal_error: 500,
  registry_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/**
 * The one error type that crosses a Swarm boundary. `expose` follows the status: detail of a
 * 5xx stays in the server's log and the client sees a generic message.
 */
export class SwarmError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwarmError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.expose = this.status < 500;
  }

  toBody(): ErrorBody {
    return {
      error: { code: this.code, message: this.expose ? this.message : 'internal error, see the server log' },
    };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

/** Reads `{ error: { code, message } }` from a peer's answer, or null when it has another shape. */
export function errorFromBody(body: unknown): SwarmError | null {
  if (typeof body !== 'object' || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (!isErrorCode(code)) return null;
  return new SwarmError(code, typeof message === 'string' ? message : code);
}
