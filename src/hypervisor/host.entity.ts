import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type HostState = 'Pending' | 'Ready' | 'Unreachable';
export type DomainType = 'kvm' | 'qemu';

@Entity('hosts')
export class HostEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name: string;

  @Column({ type: 'varchar', length: 1024 })
  uri: string;

  /** Disk for nodes' volumes (GiB): given at registration or measured; null while unknown. */
  @Column({ name: 'disk_gib', type: 'integer', nullable: true })
  diskGiB: number | null;

  /** Its Open vSwitch chassis name (`external_ids:system-id`) when it is not the host's name. */
  @Column({ type: 'varchar', length: 253, nullable: true })
  chassis: string | null;

  @Column({ name: 'domain_type', type: 'varchar', length: 8 })
  domainType: DomainType;

  /** True for `test:///` URIs: libvirt's test driver plus the built-in guest simulator. */
  @Column({ type: 'boolean' })
  simulated: boolean;

  @Column({ type: 'varchar', length: 16 })
  state: HostState;

  @Column({ type: 'boolean', default: false })
  drained: boolean;

  @Column({ type: 'integer' })
  cpus: number;

  @Column({ name: 'memory_mib', type: 'integer' })
  memoryMiB: number;

  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true })
  lastSeenAt: Date | null;

  @Column({ name: 'last_error', type: 'varchar', length: 1024, nullable: true })
  lastError: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

export type ImageKind = 'kernel' | 'qcow2';

/** A base image nodes boot from: a kernel + initramfs pair, or a qcow2 cloud image. */
@Entity('images')
export class ImageEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name: string;

  @Column({ type: 'varchar', length: 8 })
  kind: ImageKind;

  /** Paths on every host: kernel and initrd, or the qcow2 file. */
  @Column({ name: 'kernel_path', type: 'varchar', length: 1024, nullable: true })
  kernelPath: string | null;

  @Column({ name: 'initrd_path', type: 'varchar', length: 1024, nullable: true })
  initrdPath: string | null;

  @Column({ name: 'disk_path', type: 'varchar', length: 1024, nullable: true })
  diskPath: string | null;

  @Column({ name: 'kernel_cmdline', type: 'varchar', length: 1024, default: 'console=ttyS0' })
  kernelCmdline: string;

  @Column({ name: 'is_default', type: 'boolean', default: false })
  isDefault: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
