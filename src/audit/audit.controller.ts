import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { ApiErrors, ApiOperatorRoutes, ApiPage } from '../common/openapi.js';
import type { Page } from '../common/pagination.js';
import { AuditQuery, AuditRecordResponse } from './audit.dto.js';
import { AuditService } from './audit.service.js';

@ApiOperatorRoutes('operator: audit log')
@AdminOnly()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({
    summary: 'every write to the API (POST, PUT, PATCH, DELETE under /v1), newest first',
    description:
      'Who (actor and the tenant acted for), what (method, path, resource), when, from where, and the outcome. ' +
      'Request bodies and tokens are never recorded. Writes whose token was refused are not recorded (no actor).',
    operationId: 'listAuditRecords',
  })
  @ApiPage(AuditRecordResponse, 'one page, newest first')
  @ApiErrors(400)
  list(@Query() q: AuditQuery): Promise<Page<AuditRecordResponse>> {
    return this.audit.list({ tenantId: q.tenantId, outcome: q.outcome, since: q.since }, q.limit, q.cursor);
  }
}
