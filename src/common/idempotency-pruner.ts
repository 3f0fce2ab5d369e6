import { Injectable } from '@nestjs/common';
import { OnJob } from '../jobs/on-job.decorator.js';
import type { JobPayloads } from '../jobs/job-types.js';
import { Database } from './database.js';
import { IdempotencyRecordEntity } from './idempotency-record.entity.js';

@Injectable()
export class IdempotencyPruner {
  constructor(private readonly db: Database) {}

  @OnJob('maintenance.prune-idempotency')
  async prune(payload: JobPayloads['maintenance.prune-idempotency']): Promise<{ deleted: number }> {
    const before = new Date(Date.now() - payload.olderThanHours * 3600 * 1000);
    const result = await this.db.manager
      .getRepository(IdempotencyRecordEntity)
      .createQueryBuilder()
      .delete()
      .where('created_at < :before', { before })
      .execute();
    return { deleted: result.affected ?? 0 };
  }
}
