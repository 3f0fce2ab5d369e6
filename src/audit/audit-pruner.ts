import { Injectable } from '@nestjs/common';
import { OnJob } from '../jobs/on-job.decorator.js';
import type { JobPayloads } from '../jobs/job-types.js';
import { AuditRepository } from './audit.repository.js';

/** Rows per transaction: each holds its row locks for milliseconds, not for the whole prune. */
const BATCH = 5000;

/** The operator's retention of the audit log (KAAS_AUDIT_RETENTION_DAYS), run on a schedule. */
@Injectable()
export class AuditPruner {
  constructor(private readonly audit: AuditRepository) {}

  @OnJob('maintenance.prune-audit')
  async prune(payload: JobPayloads['maintenance.prune-audit']): Promise<{ deleted: number }> {
    if (payload.olderThanDays <= 0) return { deleted: 0 };
    const before = new Date(Date.now() - payload.olderThanDays * 86_400_000);
    let deleted = 0;
    for (;;) {
      const n = await this.audit.removeOlderThan(before, BATCH);
      deleted += n;
      if (n < BATCH) return { deleted };
    }
  }
}
