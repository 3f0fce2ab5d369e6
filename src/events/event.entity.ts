import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('events')
export class EventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'tenant_id', type: 'uuid' }) tenantId: string;
  @Column({ name: 'cluster_id', type: 'uuid' }) clusterId: string;
  @Column({ name: 'node_id', type: 'uuid', nullable: true }) nodeId: string | null;
  @Column({ type: 'varchar', length: 8 }) type: 'Normal' | 'Warning';
  @Column({ type: 'varchar', length: 64 }) reason: string;
  @Column({ type: 'varchar', length: 2000 }) message: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
