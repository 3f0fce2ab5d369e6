import { Injectable } from '@nestjs/common';
import { Database } from '../common/database.js';
import { type AuditOutcome, AuditRecordEntity } from './audit-record.entity.js';

export type NewAuditRecord = Omit<AuditRecordEntity, 'id' | 'at'>;

export interface AuditFilter {
  tenantId?: string;
  outcome?: AuditOutcome;
  since?: Date;
  beforeId?: string;
}

@Injectable()
export class AuditRepository {
  constructor(private readonly db: Database) {}

  async insert(record: NewAuditRecord): Promise<void> {
    await this.db.manager.getRepository(AuditRecordEntity).insert(record);
  }

  /** Newest first: ids follow the order of insertion. */
  list(filter: AuditFilter, limit: number): Promise<AuditRecordEntity[]> {
    const qb = this.db.manager.getRepository(AuditRecordEntity).createQueryBuilder('a');
    if (filter.tenantId !== undefined) qb.andWhere('a.tenant_id = :tenantId', { tenantId: filter.tenantId });
    if (filter.outcome !== undefined) qb.andWhere('a.outcome = :outcome', { outcome: filter.outcome });
    if (filter.since !== undefined) qb.andWhere('a.at >= :since', { since: filter.since });
    if (filter.beforeId !== undefined) qb.andWhere('a.id < :beforeId', { beforeId: filter.beforeId });
    return qb.orderBy('a.id', 'DESC').limit(limit).getMany();
  }

  /**
   * Deletes up to `limit` records older than `before`, oldest first, and answers how many went.
   * The append-only trigger lets a DELETE through only in a transaction that says it is the
   * retention step, so the setting is local to this one short transaction.
   */
  removeOlderThan(before: Date, limit: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL kaas.audit_retention = 'on'`);
      const [, affected] = (await tx.query(
        `DELETE FROM audit_log WHERE id IN (
           SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [before, limit],
      )) as [unknown, number];
      return affected;
    });
  }
}
