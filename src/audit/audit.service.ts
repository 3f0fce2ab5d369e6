import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { AuthContext } from '../common/auth-context.js';
import { CURSOR_SHAPE, decodeCursor, type Page, toPage } from '../common/pagination.js';
import { APP_LOGGER } from '../common/tokens.js';
import { MetricsService } from '../platform/metrics.service.js';
import { auditResource } from './audit-resource.js';
import type { AuditOutcome } from './audit-record.entity.js';
import { AuditRepository, type NewAuditRecord } from './audit.repository.js';
import { type AuditRecordResponse, toAuditRecordResponse } from './audit.dto.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the HTTP layer knows about a write once its answer is ready. Never a body or a token. */
export interface AnsweredWrite {
  /** Who presented the token; undefined when authentication failed (such writes are not recorded). */
  caller?: AuthContext;
  /** Whom the request acted as (the tenant an operator acted for). */
  auth?: AuthContext;
  sourceIp: string | undefined;
  method: string;
  /** The path as requested, without the query string. */
  path: string;
  /** The route pattern that matched (`/v1/clusters/:id`), if any. */
  routePath?: string;
  params: Record<string, unknown>;
  /** The `id` field of the answer, if it had one. */
  answerId?: unknown;
  statusCode: number;
  requestId: string;
}

function keyIdOf(principalId: string): string | null {
  const id = principalId.startsWith('key:') ? principalId.slice(4) : '';
  return UUID.test(id) ? id : null;
}

@Injectable()
export class AuditService {
  private readonly failures: Counter;

  constructor(
    private readonly repo: AuditRepository,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    metrics: MetricsService,
  ) {
    this.failures = new Counter({
      name: 'kaas_audit_write_failures_total',
      help: 'Writes whose audit record could not be stored (each is logged at error level instead)',
      registers: [metrics.registry],
    });
  }

  /** The row for a write, or undefined when nobody authenticated (there is no actor to record). */
  toRecord(w: AnsweredWrite): NewAuditRecord | undefined {
    if (!w.caller) return undefined;
    const resource = auditResource(w.routePath, w.params, w.answerId);
    const acting = w.auth ?? w.caller;
    const tenantId =
      (acting.kind === 'tenant' ? acting.tenantId : undefined) ??
      resource.tenantId ??
      (resource.kind === 'tenant' ? resource.id : undefined);
    const outcome: AuditOutcome = w.statusCode < 400 ? 'success' : 'failure';
    return {
      actorKind: w.caller.kind,
      actorTenantId: w.caller.kind === 'tenant' ? w.caller.tenantId : null,
      actorApiKeyId: keyIdOf(w.caller.principalId),
      tenantId: tenantId ?? null,
      sourceIp: (w.sourceIp ?? 'unknown').slice(0, 64),
      method: w.method.slice(0, 8),
      path: w.path.slice(0, 1024),
      resourceKind: resource.kind?.slice(0, 64) ?? null,
      resourceId: resource.id ?? null,
      statusCode: w.statusCode,
      outcome,
      requestId: w.requestId.slice(0, 100),
    };
  }

  /**
   * Stores the record of one write. Called before the answer leaves, so an acknowledged write has
   * its record; if the insert fails the answer still goes out (the write itself is done and
   * cannot be taken back) and the record goes to the log at error level instead.
   */
  async record(w: AnsweredWrite): Promise<void> {
    const row = this.toRecord(w);
    if (!row) return;
    try {
      await this.repo.insert(row);
    } catch (err) {
      this.failures.inc();
      this.logger.error({ audit: row, err: (err as Error).message }, 'audit record not stored');
    }
  }

  async list(
    filter: { tenantId?: string; outcome?: AuditOutcome; since?: string },
    limit = 100,
    cursor?: string,
  ): Promise<Page<AuditRecordResponse>> {
    const before = decodeCursor(cursor, ['id'], { id: CURSOR_SHAPE.sequence });
    const rows = await this.repo.list(
      {
        tenantId: filter.tenantId?.toLowerCase(),
        outcome: filter.outcome,
        since: filter.since === undefined ? undefined : new Date(filter.since),
        beforeId: before?.id,
      },
      limit + 1,
    );
    return toPage(rows, limit, toAuditRecordResponse, (a) => ({ id: String(a.id) }));
  }
}
