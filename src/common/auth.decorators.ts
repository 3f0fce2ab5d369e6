import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { AuthContext } from './auth-context.js';

export const ACCESS_KEY = 'kaas:access';
export type Access = 'public' | 'admin' | 'tenant' | 'any';

/** No credentials needed (health, metrics, docs). */
export const Public = () => SetMetadata(ACCESS_KEY, 'public' satisfies Access);
/** Operator only; a tenant key gets 403. */
export const AdminOnly = () => SetMetadata(ACCESS_KEY, 'admin' satisfies Access);
/**
 * Tenant routes: a tenant key acts as its tenant; the operator acts for the tenant named in the
 * `X-Kaas-Tenant` header (that is how `kaasctl --tenant` works).
 */
export const TenantRoute = () => SetMetadata(ACCESS_KEY, 'tenant' satisfies Access);

export const Auth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const req = ctx.switchToHttp().getRequest<{ auth?: AuthContext }>();
  if (!req.auth) throw new Error('route has no auth context; is it @Public()?');
  return req.auth;
});
