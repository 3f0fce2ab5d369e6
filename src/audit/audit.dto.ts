import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsUUID, MaxLength } from 'class-validator';
import { ListQuery } from '../common/pagination.js';
import type { AuditOutcome, AuditRecordEntity } from './audit-record.entity.js';

export class AuditQuery extends ListQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'only writes that acted on or for this tenant' })
  @IsOptional()
  @IsUUID('all', { message: 'tenantId must be a tenant id' })
  tenantId?: string;

  @ApiPropertyOptional({ enum: ['success', 'failure'] })
  @IsOptional()
  @IsIn(['success', 'failure'], { message: 'outcome must be "success" or "failure"' })
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ description: 'only writes at or after this time (ISO 8601)', example: '2026-11-27T00:00:00Z' })
  @IsOptional()
  @MaxLength(40, { message: 'since must be an ISO 8601 time' })
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 time' })
  since?: string;
}

export class AuditActorResponse {
  @ApiProperty({ enum: ['admin', 'tenant'] }) kind: 'admin' | 'tenant';
  @ApiPropertyOptional({ format: 'uuid', description: "a tenant key's tenant" }) tenantId?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'the API key or admin token used (not the KAAS_ADMIN_TOKEN)' })
  apiKeyId?: string;
}

export class AuditRecordResponse {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'when the answer was given' }) at: string;
  @ApiProperty({ type: AuditActorResponse }) actor: AuditActorResponse;
  @ApiPropertyOptional({ format: 'uuid', description: 'the tenant acted on or for' }) tenantId?: string;
  @ApiProperty() sourceIp: string;
  @ApiProperty({ enum: ['POST', 'PUT', 'PATCH', 'DELETE'] }) method: string;
  @ApiProperty() path: string;
  @ApiPropertyOptional({ example: 'cluster' }) resourceKind?: string;
  @ApiPropertyOptional({ format: 'uuid' }) resourceId?: string;
  @ApiProperty() statusCode: number;
  @ApiProperty({ enum: ['success', 'failure'] }) outcome: AuditOutcome;
  @ApiProperty() requestId: string;
}

export function toAuditRecordResponse(a: AuditRecordEntity): AuditRecordResponse {
  return {
    id: String(a.id),
    at: a.at.toISOString(),
    actor: {
      kind: a.actorKind,
      ...(a.actorTenantId ? { tenantId: a.actorTenantId } : {}),
      ...(a.actorApiKeyId ? { apiKeyId: a.actorApiKeyId } : {}),
    },
    ...(a.tenantId ? { tenantId: a.tenantId } : {}),
    sourceIp: a.sourceIp,
    method: a.method,
    path: a.path,
    ...(a.resourceKind ? { resourceKind: a.resourceKind } : {}),
    ...(a.resourceId ? { resourceId: a.resourceId } : {}),
    statusCode: a.statusCode,
    outcome: a.outcome,
    requestId: a.requestId,
  };
}
