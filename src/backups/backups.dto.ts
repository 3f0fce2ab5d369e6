import { ApiProperty } from '@nestjs/swagger';
import type { Backup } from './backups.repository.js';

export class BackupResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid', description: 'the cluster backed up (it may be deleted since)' }) clusterId: string;
  @ApiProperty() clusterName: string;
  @ApiProperty() controlPlane: string;
  @ApiProperty({ description: 'the control plane version of the data; a restore runs it' }) version: string;
  @ApiProperty({ enum: ['Pending', 'Running', 'Succeeded', 'Failed'] }) phase: string;
  @ApiProperty({ enum: ['manual', 'scheduled'] }) trigger: string;
  @ApiProperty({ format: 'uuid', description: 'the storage pool holding it, counted against its capacity' })
  storagePoolId: string;
  @ApiProperty({ description: 'size of the stored snapshot in bytes (0 until it succeeds)' }) sizeBytes: number;
  @ApiProperty({ nullable: true, type: String, description: 'SHA-256 of the stored snapshot, hex' })
  sha256: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'why it failed, or what it saw' }) message: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ required: false }) completedAt?: string;
}

export function toBackupResponse(b: Backup): BackupResponse {
  return {
    id: b.id,
    clusterId: b.clusterId,
    clusterName: b.clusterName,
    controlPlane: b.controlPlane,
    version: b.version,
    phase: b.phase,
    trigger: b.trigger,
    storagePoolId: b.storagePoolId,
    sizeBytes: b.sizeBytes,
    sha256: b.sha256,
    message: b.message,
    createdAt: b.createdAt.toISOString(),
    ...(b.completedAt ? { completedAt: b.completedAt.toISOString() } : {}),
  };
}
