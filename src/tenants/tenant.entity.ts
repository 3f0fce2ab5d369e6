import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const DEFAULT_QUOTA = {
  maxClusters: 10,
  maxNodes: 50,
  maxVcpus: 100,
  maxMemoryMiB: 204800,
  maxStorageGiB: 2000,
  maxFloatingIps: 10,
} as const;

export type Quota = { -readonly [K in keyof typeof DEFAULT_QUOTA]: number };
export const QUOTA_KEYS = Object.keys(DEFAULT_QUOTA) as (keyof Quota)[];

@Entity('tenants')
export class TenantEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name: string;

  @Column({ name: 'max_clusters', type: 'integer' })
  maxClusters: number;

  @Column({ name: 'max_nodes', type: 'integer' })
  maxNodes: number;

  @Column({ name: 'max_vcpus', type: 'integer' })
  maxVcpus: number;

  @Column({ name: 'max_memory_mib', type: 'integer' })
  maxMemoryMiB: number;

  @Column({ name: 'max_storage_gib', type: 'integer' })
  maxStorageGiB: number;

  @Column({ name: 'max_floating_ips', type: 'integer' })
  maxFloatingIps: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
