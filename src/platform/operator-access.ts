import type { AuthContext } from '../common/auth-context.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { AuthService } from '../tenants/auth.service.js';
import type { RateLimitService } from './rate-limit.service.js';

export interface BearerCheck {
  /** RateLimit-* (and, when refused, Retry-After) headers for the answer. */
  headers: Record<string, string>;
  caller?: AuthContext;
  /** Set when the request is refused: 401, 403 or 429. */
  refusal?: DomainError;
}

/**
 * The bearer token of a request, checked as the API checks it: the address and key budgets before
 * any lookup, then the token, then, for a token that does not verify, the failed-authentication
 * budget. With `operator`, only the admin token or an operator's API key passes (403 otherwise).
 */
export async function checkBearer(
  auth: AuthService,
  limits: RateLimitService,
  request: { ip: string | undefined; authorization: string | undefined },
  operator: boolean,
): Promise<BearerCheck> {
  const token = /^Bearer\s+(\S+)$/i.exec(request.authorization ?? '')?.[1];
  const admission = await limits.admit(request.ip, token);
  const headers = { ...admission.headers };
  if (admission.refusal) return { headers, refusal: admission.refusal };
  if (token === undefined)
    return {
      headers,
      refusal: new DomainError(ErrorCode.Unauthenticated, 'missing bearer token in the Authorization header'),
    };
  const caller = await auth.authenticate(token);
  if (!caller) {
    const failure = await limits.authenticationFailed(request.ip);
    Object.assign(headers, failure.headers);
    return {
      headers,
      refusal: failure.refusal ?? new DomainError(ErrorCode.Unauthenticated, 'invalid or revoked token'),
    };
  }
  if (operator && caller.kind !== 'admin')
    return { headers, caller, refusal: new DomainError(ErrorCode.Forbidden, 'this route is for the operator') };
  return { headers, caller };
}
