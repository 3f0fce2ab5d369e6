import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('cluster_secrets')
export class ClusterSecretsEntity {
  @PrimaryColumn({ name: 'cluster_id', type: 'uuid' }) clusterId: string;
  /** AES-256-GCM under one of the platform's secret keys (`k1.<key id>.…`), bound to the cluster id. */
  @Column({ type: 'text' }) sealed: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
