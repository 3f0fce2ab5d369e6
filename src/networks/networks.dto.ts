import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { IsDnsLabel } from '../common/dns-label.js';
import type { FloatingIpEntity, VpcEntity } from './network.entities.js';
import type { RangeWithCounts } from './floating-ips.repository.js';

export class CreateVpcRequest {
  @IsDnsLabel('prod')
  name: string;

  @ApiProperty({ example: '10.20.0.0/24', description: 'IPv4, /16 to /28, in 10/8, 172.16/12 or 192.168/16' })
  @IsString({ message: 'cidr must be a string like 10.0.0.0/24' })
  @MaxLength(18, { message: 'cidr must be a string like 10.0.0.0/24' })
  cidr: string;
}

export class VpcResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() cidr: string;
  @ApiProperty() gateway: string;
  @ApiProperty({ enum: ['Ready', 'Deleting'] }) state: string;
  @ApiProperty() createdAt: string;
}

export function toVpcResponse(v: VpcEntity): VpcResponse {
  return {
    id: v.id,
    name: v.name,
    cidr: v.cidr,
    gateway: v.gateway,
    state: v.state,
    createdAt: v.createdAt.toISOString(),
  };
}

/** `{}` is the whole body today; the class exists so unknown fields are refused. */
export class CreateFloatingIpRequest {}

export class FloatingIpResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() address: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) clusterId: string | null;
  @ApiProperty() createdAt: string;
}

export function toFloatingIpResponse(f: FloatingIpEntity): FloatingIpResponse {
  return { id: f.id, address: f.address, clusterId: f.clusterId, createdAt: f.createdAt.toISOString() };
}

export class CreateFloatingIpRangeRequest {
  @ApiPropertyOptional({ example: '10.250.0.0/24', description: 'a CIDR, or start and end' })
  @IsOptional()
  @IsString()
  @MaxLength(18)
  cidr?: string;

  @ApiPropertyOptional({ example: '10.250.0.10' })
  @IsOptional()
  @IsString()
  @MaxLength(15)
  start?: string;

  @ApiPropertyOptional({ example: '10.250.0.99' })
  @IsOptional()
  @IsString()
  @MaxLength(15)
  end?: string;
}

export class FloatingIpRangeResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ nullable: true, type: String }) cidr: string | null;
  @ApiProperty() start: string;
  @ApiProperty() end: string;
  @ApiProperty() total: number;
  @ApiProperty() used: number;
  @ApiProperty() free: number;
}

export function toRangeResponse(r: RangeWithCounts): FloatingIpRangeResponse {
  return {
    id: r.id,
    cidr: r.cidr,
    start: r.startAddress,
    end: r.endAddress,
    total: r.total,
    used: r.used,
    free: r.total - r.used,
  };
}
