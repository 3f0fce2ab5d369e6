import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuthContext } from './auth-context.js';

export interface RequestContext {
  requestId: string;
  auth?: AuthContext;
  sourceIp?: string;
}

/** Carries the request id (and the caller) through every await of one request, for logs. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
