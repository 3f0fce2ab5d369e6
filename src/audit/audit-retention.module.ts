import { Module } from '@nestjs/common';
import { AuditPruner } from './audit-pruner.js';
import { AuditRepository } from './audit.repository.js';

/**
 * The audit log's table and its scheduled pruning. Apart from AuditModule (the API's routes and
 * recording) because the workers, which serve no routes, run the prune.
 */
@Module({
  providers: [AuditRepository, AuditPruner],
  exports: [AuditRepository],
})
export class AuditRetentionModule {}
