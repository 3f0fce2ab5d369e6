import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { Condition } from '../common/conditions.js';

export type NodeRole = 'master' | 'worker';
export type NodePhase =
  'Pending' | 'Provisioning' | 'Booting' | 'Joining' | 'Ready' | 'NotReady' | 'Deleting' | 'Failed';

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** A Kubernetes taint, as a worker pool declares it for its nodes. */
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

export interface NodeUsage {
  cpuPercent: number;
  memoryMiB: number;
  sampledAt: string;
  cpuTimeNs: number;
}

@Entity('nodes')
export class NodeEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'cluster_id', type: 'uuid' }) clusterId: string;
  @Column({ name: 'tenant_id', type: 'uuid' }) tenantId: string;
  @Column({ type: 'varchar', length: 63 }) name: string;
  @Column({ type: 'integer' }) ordinal: number;
  @Column({ type: 'varchar', length: 8 }) role: NodeRole;
  /** A worker's pool; null for masters. */
  @Column({ type: 'varchar', length: 63, nullable: true }) pool: string | null;
  /** The labels and taints the node was made with (its pool's at the time). */
  @Column({ type: 'jsonb' }) labels: Record<string, string>;
  @Column({ type: 'jsonb' }) taints: Taint[];
  /** The version of the cluster's control-plane bundle this node runs (the cluster's when made). */
  @Column({ type: 'varchar', length: 32 }) version: string;
  /** The cluster's certificates generation when this node's certificates were made. */
  @Column({ name: 'certificates_generation', type: 'integer' }) certificatesGeneration: number;
  /** When the node's own certificate ends (set when its seed is made). */
  @Column({ name: 'certificate_expires_at', type: 'timestamptz', nullable: true }) certificateExpiresAt: Date | null;
  @Column({ name: 'host_id', type: 'uuid', nullable: true }) hostId: string | null;
  @Column({ type: 'integer' }) vcpus: number;
  @Column({ name: 'memory_mib', type: 'integer' }) memoryMiB: number;
  @Column({ name: 'disk_gib', type: 'integer' }) diskGiB: number;
  @Column({ type: 'inet', nullable: true }) address: string | null;
  @Column({ type: 'macaddr' }) mac: string;
  @Column({ type: 'varchar', length: 16 }) phase: NodePhase;
  @Column({ type: 'jsonb' }) conditions: Condition[];
  @Column({ name: 'last_heartbeat_at', type: 'timestamptz', nullable: true }) lastHeartbeatAt: Date | null;
  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true }) readyAt: Date | null;
  /** When the node's health checks started failing; cleared when they pass. */
  @Column({ name: 'failing_since', type: 'timestamptz', nullable: true }) failingSince: Date | null;
  /** When the node was judged unhealthy (remediation may replace it). */
  @Column({ name: 'unhealthy_since', type: 'timestamptz', nullable: true }) unhealthySince: Date | null;
  /** Set when the node should be replaced: a new node is made first, then this one removed. */
  @Column({ name: 'replace_requested_at', type: 'timestamptz', nullable: true }) replaceRequestedAt: Date | null;
  @Column({ name: 'delete_requested_at', type: 'timestamptz', nullable: true }) deleteRequestedAt: Date | null;
  @Column({ name: 'delete_reason', type: 'varchar', length: 200, nullable: true }) deleteReason: string | null;
  @Column({ name: 'replaces_node_id', type: 'uuid', nullable: true }) replacesNodeId: string | null;
  @Column({ name: 'boot_started_at', type: 'timestamptz', nullable: true }) bootStartedAt: Date | null;
  @Column({ type: 'jsonb', nullable: true }) usage: NodeUsage | null;
  /** Bumped by every status patch (see NodesRepository.patchStatus). */
  @Column({ name: 'status_version', type: 'integer' }) statusVersion: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
