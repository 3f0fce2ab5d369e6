import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { checkBearer } from '../platform/operator-access.js';
import { RateLimitService } from '../platform/rate-limit.service.js';
import { AuthService } from '../tenants/auth.service.js';
import type { AuthContext } from './auth-context.js';
import { ACCESS_KEY, type Access } from './auth.decorators.js';
import { DomainError, ErrorCode } from './domain-error.js';
import { requestContext } from './request-context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Global guard: every route is authenticated unless marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly limits: RateLimitService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access =
      this.reflector.getAllAndOverride<Access>(ACCESS_KEY, [context.getHandler(), context.getClass()]) ?? 'any';
    if (access === 'public') return true;
    const req = context.switchToHttp().getRequest<Request & { auth?: AuthContext }>();
    // The address and key budgets come before any lookup, so a flood costs no database work; the
    // token is checked before the failed-authentication budget is, so that a guesser sharing an
    // address (a proxy, a NAT) cannot shut out the valid keys and the operator behind it.
    const check = await checkBearer(
      this.auth,
      this.limits,
      { ip: req.ip, authorization: req.headers.authorization },
      access === 'admin',
    );
    const res = context.switchToHttp().getResponse<Response>();
    for (const [name, value] of Object.entries(check.headers)) res.setHeader(name, value);
    const store = requestContext.getStore();
    if (store && check.caller) store.caller = check.caller;
    if (check.refusal) throw check.refusal;
    const caller = check.caller!;
    let effective: AuthContext = caller;
    if (access === 'tenant' && caller.kind === 'admin') {
      const tenantId = req.headers['x-kaas-tenant'];
      if (typeof tenantId !== 'string' || !UUID.test(tenantId)) {
        throw new DomainError(
          ErrorCode.ValidationFailed,
          'X-Kaas-Tenant: the operator must name the tenant (a tenant id) to act on tenant resources',
          [{ field: 'X-Kaas-Tenant', problems: ['must be a tenant id'] }],
        );
      }
      effective = { kind: 'tenant', tenantId, principalId: caller.principalId };
    }
    req.auth = effective;
    if (store) store.auth = effective;
    return true;
  }
}
