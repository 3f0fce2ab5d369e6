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
}
