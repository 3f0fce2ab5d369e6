import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { AuthContext } from './auth-context.js';
import { Database, isUniqueViolation } from './database.js';
import { DomainError } from './domain-error.js';
import { IdempotencyRecordEntity } from './idempotency-record.entity.js';
import { requestContext } from './request-context.js';
import { SecretBox } from './secret-box.js';
import { APP_CONFIG } from './tokens.js';
import type { AppConfig } from '../config/config.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on writes: the first answer (status and body) is stored for 24 h and replayed
 * for the same caller, key and request; the same key with a different request is a 409.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly box: SecretBox,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<Request & { auth?: AuthContext }>();
    const key = req.headers['idempotency-key'];
    if (!WRITE_METHODS.has(req.method) || key === undefined || !req.auth) return next.handle();
    return from(this.handle(context, next, req, key));
  }

  private async handle(
    context: ExecutionContext,
    next: CallHandler,
    req: Request & { auth?: AuthContext },
    key: string | string[],
  ): Promise<unknown> {
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw DomainError.validation('Idempotency-Key', 'must be 1-255 printable ASCII characters');
    }
    const auth = req.auth!;
    const principal = auth.kind === 'tenant' ? `${auth.principalId}@${auth.tenantId}` : auth.principalId;
    const requestHash = createHash('sha256')
      .update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`)
      .digest('hex');
    const repo = this.db.manager.getRepository(IdempotencyRecordEntity);
    const res = context.switchToHttp().getResponse<Response>();
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
    await repo
      .createQueryBuilder()
      .delete()
      .where('principal = :principal AND idempotency_key = :key AND created_at < :dayAgo', { principal, key, dayAgo })
      .execute();
    try {
      await repo.insert({ principal, key, requestHash, statusCode: null });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const previous = await repo.findOneBy({ principal, key });
      if (!previous) throw err;
      if (previous.requestHash !== requestHash) {
        throw DomainError.conflict('Idempotency-Key was already used with a different request');
      }
      if (previous.statusCode !== null) {
        res.setHeader('Idempotent-Replayed', 'true');
        // Answers may carry secrets (a new API key), so they are kept encrypted.
        const stored = previous.responseBody as { sealed?: string } | null;
        return stored?.sealed ? JSON.parse(this.box.open(stored.sealed, `${principal}/${key}`)) : null;
      }
      // An attempt whose process died, or whose database went away before it could let go of the
      // key, leaves it in progress for ever: past the lock time, this retry runs the request.
      const taken = await repo
        .createQueryBuilder()
        .update()
        .set({ createdAt: () => 'now()' })
        .where('principal = :principal AND idempotency_key = :key AND status_code IS NULL', { principal, key })
        .andWhere('created_at < now() - make_interval(secs => :secs)', { secs: this.config.idempotencyLockSeconds })
        .execute();
      if (!taken.affected) throw DomainError.conflict('a request with this Idempotency-Key is still in progress');
    }
    const store = requestContext.getStore();
    if (store) store.idempotency = { principal, key };
    try {
      const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
      const status =
        (Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) as number | undefined) ??
        (req.method === 'POST' ? 201 : 200);
      const sealed = this.box.seal(JSON.stringify(body ?? null), `${principal}/${key}`);
      await repo.update({ principal, key }, { statusCode: status, responseBody: { sealed } });
      return body;
    } catch (err) {
      // A failed request does not pin the key: the client may retry it. One that created its
      // resource before failing keeps the mark of it (IdempotencyEffects), and so does one whose
      // database failed: the key is taken over once its lock time has passed (see above).
      await repo
        .createQueryBuilder()
        .delete()
        .where('principal = :principal AND idempotency_key = :key AND status_code IS NULL', { principal, key })
        .andWhere('response_body IS NULL')
        .execute()
        .catch(() => undefined);
      throw err;
    }
  }
}
