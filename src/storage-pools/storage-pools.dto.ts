import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { IsDnsLabel } from '../common/dns-label.js';
import type { StoragePoolEntity } from './storage-pool.entity.js';

/** 1 PiB: beyond this a request is a typo, not a plan. */
export const MAX_POOL_GIB = 1_048_576;

export class CreateStoragePoolRequest {
  @IsDnsLabel('fast')
  name: string;

  @ApiProperty({ minimum: 1, maximum: MAX_POOL_GIB, example: 200 })
  @IsInt({ message: 'capacityGiB must be a whole number' })
  @Min(1, { message: 'capacityGiB must be at least 1' })
  @Max(MAX_POOL_GIB, { message: `capacityGiB must be at most ${MAX_POOL_GIB}` })
  capacityGiB: number;
}

export class StoragePoolResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() capacityGiB: number;
  @ApiProperty() allocatedGiB: number;
  @ApiProperty({ enum: ['Ready', 'Deleting'] }) state: string;
  @ApiProperty() createdAt: string;
}

export function toStoragePoolResponse(p: StoragePoolEntity, allocatedGiB: number): StoragePoolResponse {
  return {
    id: p.id,
    name: p.name,
    capacityGiB: p.capacityGiB,
    allocatedGiB,
    state: p.state,
    createdAt: p.createdAt.toISOString(),
  };
}
