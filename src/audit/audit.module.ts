import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { AuditRetentionModule } from './audit-retention.module.js';
import { AuditService } from './audit.service.js';

/** The audit log of API writes (API process only). */
@Module({
  imports: [AuditRetentionModule],
  controllers: [AuditController],
  providers: [AuditService],
  exports: [AuditService],
})
export class AuditModule {}
