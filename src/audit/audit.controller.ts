import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import type { Page } from '../common/pagination.js';
import { AuditPageResponse, AuditQuery, type AuditRecordResponse } from './audit.dto.js';
import { AuditService } from './audit.service.js';

@ApiTags('operator: audit log')
@ApiBearerAuth()
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
  })
  @ApiOkResponse({ type: AuditPageResponse })
  @ApiForbiddenResponse({ description: 'a tenant key' })
  list(@Query() q: AuditQuery): Promise<Page<AuditRecordResponse>> {
    return this.audit.list({ tenantId: q.tenantId, outcome: q.outcome, since: q.since }, q.limit, q.cursor);
  }
}
