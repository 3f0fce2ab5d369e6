import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type StoragePoolState = 'Ready' | 'Deleting';

/**
 * A tenant's storage allocation. The libvirt pool that backs it is created on a host when the
 * first volume is placed there (see docs/networking.md for the same pattern with VPCs).
 */
@Entity('storage_pools')
export class StoragePoolEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'varchar', length: 63 })
  name: string;

  @Column({ name: 'capacity_gib', type: 'integer' })
  capacityGiB: number;

  @Column({ type: 'varchar', length: 16 })
  state: StoragePoolState;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** A volume carved from a tenant's pool (a node's disk). */
@Entity('volumes')
export class VolumeEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'pool_id', type: 'uuid' })
  poolId: string;

  @Column({ type: 'varchar', length: 128 })
  name: string;

  @Column({ name: 'capacity_gib', type: 'integer' })
  capacityGiB: number;

  @Column({ name: 'owner_kind', type: 'varchar', length: 16, nullable: true })
  ownerKind: string | null;

  @Column({ name: 'owner_id', type: 'uuid', nullable: true })
  ownerId: string | null;

  @Column({ name: 'host_id', type: 'uuid', nullable: true })
  hostId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
