import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsDnsLabel } from '../common/dns-label.js';
import type { Usage } from './quota.service.js';
import type { TenantEntity, Quota } from './tenant.entity.js';

const MAX_QUOTA = 1_000_000_000;

export class CreateTenantRequest {
  @IsDnsLabel('acme')
  name: string;
}

export class CreateApiKeyRequest {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  description?: string;
}

function QuotaField(example: number): PropertyDecorator {
  return (target: object, key: string | symbol) => {
    ApiProperty({ example, minimum: 0, maximum: MAX_QUOTA })(target, key);
    IsInt({ message: `${String(key)} must be a whole number` })(target, key);
    Min(0, { message: `${String(key)} must not be negative` })(target, key);
    Max(MAX_QUOTA, { message: `${String(key)} must be at most ${MAX_QUOTA}` })(target, key);
  };
}

export class SetQuotaRequest implements Quota {
  @QuotaField(10) maxClusters: number;
  @QuotaField(50) maxNodes: number;
  @QuotaField(100) maxVcpus: number;
  @QuotaField(204800) maxMemoryMiB: number;
  @QuotaField(2000) maxStorageGiB: number;
  @QuotaField(10) maxFloatingIps: number;
}

export class QuotaResponse implements Quota {
  @ApiProperty() maxClusters: number;
  @ApiProperty() maxNodes: number;
  @ApiProperty() maxVcpus: number;
  @ApiProperty() maxMemoryMiB: number;
  @ApiProperty() maxStorageGiB: number;
  @ApiProperty() maxFloatingIps: number;
}

export class UsageResponse {
  @ApiProperty() clusters: number;
  @ApiProperty() nodes: number;
  @ApiProperty() vcpus: number;
  @ApiProperty() memoryMiB: number;
  @ApiProperty() storageGiB: number;
  @ApiProperty() floatingIps: number;
}

export class TenantResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: QuotaResponse }) quota: QuotaResponse;
  @ApiProperty({ type: UsageResponse }) usage: UsageResponse;
  @ApiProperty() createdAt: string;
}

export class CreatedTenantResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'shown once; store it now' }) apiKey: string;
  @ApiProperty({ format: 'uuid' }) apiKeyId: string;
}

export class ApiKeyCreatedResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'shown once; store it now' }) apiKey: string;
}

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() prefix: string;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
}

export function toQuota(t: TenantEntity): Quota {
  return {
    maxClusters: t.maxClusters,
    maxNodes: t.maxNodes,
    maxVcpus: t.maxVcpus,
    maxMemoryMiB: t.maxMemoryMiB,
    maxStorageGiB: t.maxStorageGiB,
    maxFloatingIps: t.maxFloatingIps,
  };
}

export function toUsageResponse(u: Usage): UsageResponse {
  return {
    clusters: u.maxClusters,
    nodes: u.maxNodes,
    vcpus: u.maxVcpus,
    memoryMiB: u.maxMemoryMiB,
    storageGiB: u.maxStorageGiB,
    floatingIps: u.maxFloatingIps,
  };
}

export function toTenantResponse(t: TenantEntity, usage: Usage): TenantResponse {
  return {
    id: t.id,
    name: t.name,
    quota: toQuota(t),
    usage: toUsageResponse(usage),
    createdAt: t.createdAt.toISOString(),
  };
}
