/** Every error the platform raises on purpose carries one of these codes. */
export const ErrorCode = {
  ValidationFailed: 'VALIDATION_FAILED',
  MalformedBody: 'MALFORMED_BODY',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  PreconditionFailed: 'PRECONDITION_FAILED',
  QuotaExceeded: 'QUOTA_EXCEEDED',
  Unprocessable: 'UNPROCESSABLE',
  RateLimited: 'RATE_LIMITED',
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one mapping from error code to HTTP status; exhaustive by type. */
export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_BODY: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  QUOTA_EXCEEDED: 422,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export interface FieldProblem {
  field: string;
  problems: string[];
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  static notFound(kind: string, id: string): DomainError {
    return new DomainError(ErrorCode.NotFound, `${kind} ${id} not found`);
  }

  static conflict(message: string, details?: unknown): DomainError {
    return new DomainError(ErrorCode.Conflict, message, details);
  }

  static preconditionFailed(message: string, details?: unknown): DomainError {
    return new DomainError(ErrorCode.PreconditionFailed, message, details);
  }

  static validation(field: string, problem: string): DomainError {
    return new DomainError(ErrorCode.ValidationFailed, `${field}: ${problem}`, [{ field, problems: [problem] }]);
  }

  static quota(quota: string, limit: number, used: number, requested: number): DomainError {
    return new DomainError(
      ErrorCode.QuotaExceeded,
      `quota ${quota} exceeded: limit ${limit}, in use ${used}, requested ${requested}`,
      { quota, limit, used, requested },
    );
  }

  static unprocessable(message: string, details?: unknown): DomainError {
    return new DomainError(ErrorCode.Unprocessable, message, details);
  }
}
