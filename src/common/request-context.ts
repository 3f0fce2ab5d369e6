import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { AuthContext } from './auth-context.js';

export interface RequestContext {
  requestId: string;
  /** The tenant or operator the request acts as (for an operator acting for a tenant: that tenant). */
  auth?: AuthContext;
  /** Who presented the token: differs from `auth` when the operator acts for a tenant. */
  caller?: AuthContext;
  sourceIp?: string;
  /** The Idempotency-Key this write runs under, as the idempotency record names it. */
  idempotency?: { principal: string; key: string };
}

/**
 * Carries the request id (and the caller) through every await of one request, for logs; in a
 * worker, the id of the request that caused the job being run (see JobRunner).
 */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Whether a request id (from a header, or from a job's data) is one a log line may carry. */
export function isSafeRequestId(id: unknown): id is string {
  return typeof id === 'string' && SAFE_REQUEST_ID.test(id);
}

/** The caller's X-Request-Id when it is sane, otherwise a new one. */
export function requestIdFrom(header: unknown): string {
  return isSafeRequestId(header) ? header : randomUUID();
}
