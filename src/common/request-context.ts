import { AsyncLocalStorage } from 'node:async_hooks';
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

/** Carries the request id (and the caller) through every await of one request, for logs. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
