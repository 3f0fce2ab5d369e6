import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { Condition } from '../common/conditions.js';
import type { WorkerPool } from './worker-pools.js';

export type ClusterPhase = 'Pending' | 'Provisioning' | 'Running' | 'Updating' | 'Degraded' | 'Deleting' | 'Failed';

export interface ClusterSettings {
  /** A node that never became ready within this many seconds is unhealthy. */
  nodeStartupTimeoutSeconds?: number;
  /** A ready node whose probe fails for this long is unhealthy. */
  unhealthyTimeoutSeconds?: number;
  /** Remediation stops when more than this many (or this share, "40%") nodes are unhealthy. */
  maxUnhealthy?: number | string;
  autoscale?: { minWorkers: number; maxWorkers: number; targetCpuPercent: number; cooldownSeconds?: number };
  /** Rolling upgrades: new workers made at once per pool; maxUnavailable is always 0 (surge first). */
  upgrade?: { maxSurge?: number; maxUnavailable?: number };
  /** Backups on a schedule: one every `intervalMinutes`, the newest `keep` scheduled ones kept. */
  backup?: { intervalMinutes: number; keep: number } | null;
}

@Entity('clusters')
export class ClusterEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'tenant_id', type: 'uuid' }) tenantId: string;
  @Column({ type: 'varchar', length: 63 }) name: string;
  @Column({ name: 'control_plane', type: 'varchar', length: 32 }) controlPlane: string;
  @Column({ type: 'varchar', length: 32 }) version: string;
  @Column({ type: 'integer' }) masters: number;
  /** The sum of the pools' counts. */
  @Column({ type: 'integer' }) workers: number;
  @Column({ name: 'worker_pools', type: 'jsonb' }) workerPools: WorkerPool[];
  /** What the pools declare together (count × node size): quota and storage checks read these. */
  @Column({ name: 'worker_vcpus', type: 'integer' }) workerVcpus: number;
  @Column({ name: 'worker_memory_mib', type: 'integer' }) workerMemoryMiB: number;
  @Column({ name: 'worker_disk_gib', type: 'integer' }) workerDiskGiB: number;
  @Column({ type: 'integer' }) vcpus: number;
  @Column({ name: 'memory_mib', type: 'integer' }) memoryMiB: number;
  @Column({ name: 'disk_gib', type: 'integer' }) diskGiB: number;
  @Column({ name: 'vpc_id', type: 'uuid' }) vpcId: string;
  @Column({ name: 'storage_pool_id', type: 'uuid' }) storagePoolId: string;
  @Column({ name: 'floating_ip_id', type: 'uuid', nullable: true }) floatingIpId: string | null;
  @Column({ name: 'image_id', type: 'uuid', nullable: true }) imageId: string | null;
  @Column({ type: 'varchar', length: 16 }) phase: ClusterPhase;
  @Column({ type: 'jsonb' }) conditions: Condition[];
  @Column({ type: 'boolean' }) paused: boolean;
  @Column({ type: 'jsonb' }) settings: ClusterSettings;
  /** Raised by every change of the declared state. */
  @Column({ type: 'integer' }) generation: number;
  /** Raised by every certificate rotation asked for: older nodes are replaced. */
  @Column({ name: 'certificates_generation', type: 'integer' }) certificatesGeneration: number;
  /** The generation the reconciler last acted on. */
  @Column({ name: 'observed_generation', type: 'integer' }) observedGeneration: number;
  @Column({ name: 'deleting_at', type: 'timestamptz', nullable: true }) deletingAt: Date | null;
  /** The backup this cluster was created from; its first master starts from that snapshot. */
  @Column({ name: 'restore_backup_id', type: 'uuid', nullable: true }) restoreBackupId: string | null;
  /** When the restored cluster first ran: later masters join it, none restores again. */
  @Column({ name: 'restored_at', type: 'timestamptz', nullable: true }) restoredAt: Date | null;
  /** Bumped by every status write; a write computed from an older version is refused. */
  @Column({ name: 'status_version', type: 'integer' }) statusVersion: number;
  /** When the autoscaler last changed the declared size (the start of its cool-down). */
  @Column({ name: 'autoscaled_at', type: 'timestamptz', nullable: true }) autoscaledAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
