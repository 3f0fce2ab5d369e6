import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type VpcState = 'Ready' | 'Deleting';

@Entity('vpcs')
export class VpcEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'varchar', length: 63 })
  name: string;

  @Column({ type: 'cidr' })
  cidr: string;

  @Column({ type: 'inet' })
  gateway: string;

  @Column({ type: 'varchar', length: 16 })
  state: VpcState;

  /**
   * Offset from the network address of the first address not yet put on the VPC's free list
   * (`ip_free_addresses`): the list is filled in blocks as allocations come near its end.
   */
  @Column({ name: 'free_list_cursor', type: 'integer', default: 2 })
  freeListCursor: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/**
 * One address of a VPC handed to an owner (a node); kept after release for the quarantine, then
 * moved back to the VPC's free list.
 */
@Entity('ip_allocations')
export class IpAllocationEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'vpc_id', type: 'uuid' })
  vpcId: string;

  @Column({ type: 'inet' })
  address: string;

  @Column({ name: 'owner_kind', type: 'varchar', length: 16 })
  ownerKind: string;

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId: string;

  @Column({ name: 'released_at', type: 'timestamptz', nullable: true })
  releasedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@Entity('floating_ip_ranges')
export class FloatingIpRangeEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'start_address', type: 'inet' })
  startAddress: string;

  @Column({ name: 'end_address', type: 'inet' })
  endAddress: string;

  @Column({ type: 'cidr', nullable: true })
  cidr: string | null;

  /**
   * The subnet of the provider network that carries these addresses to masters; its first
   * address (gateway) is the host's own address on that network.
   */
  @Column({ name: 'provider_cidr', type: 'cidr' })
  providerCidr: string;

  @Column({ type: 'inet' })
  gateway: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@Entity('floating_ips')
export class FloatingIpEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'range_id', type: 'uuid' })
  rangeId: string;

  @Column({ type: 'inet' })
  address: string;

  @Column({ name: 'cluster_id', type: 'uuid', nullable: true })
  clusterId: string | null;

  /**
   * Set on the address of a VPC's router on the provider network (its SNAT and gateway address):
   * such a row is the platform's, not the tenant's, and is never listed to it nor counted in quota.
   */
  @Column({ name: 'vpc_id', type: 'uuid', nullable: true })
  vpcId: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
