import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type AuditOutcome = 'success' | 'failure';

/** One write to the API. Rows are only ever inserted (a trigger refuses changes). */
@Entity('audit_log')
export class AuditRecordEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id: string;
  @Column({ type: 'timestamptz' }) at: Date;
  @Column({ name: 'actor_kind', type: 'varchar', length: 8 }) actorKind: 'admin' | 'tenant';
  @Column({ name: 'actor_tenant_id', type: 'uuid', nullable: true }) actorTenantId: string | null;
  @Column({ name: 'actor_api_key_id', type: 'uuid', nullable: true }) actorApiKeyId: string | null;
  /** The tenant acted on or for. */
  @Column({ name: 'tenant_id', type: 'uuid', nullable: true }) tenantId: string | null;
  @Column({ name: 'source_ip', type: 'varchar', length: 64 }) sourceIp: string;
  @Column({ type: 'varchar', length: 8 }) method: string;
  @Column({ type: 'varchar', length: 1024 }) path: string;
  @Column({ name: 'resource_kind', type: 'varchar', length: 64, nullable: true }) resourceKind: string | null;
  @Column({ name: 'resource_id', type: 'uuid', nullable: true }) resourceId: string | null;
  @Column({ name: 'status_code', type: 'smallint' }) statusCode: number;
  @Column({ type: 'varchar', length: 8 }) outcome: AuditOutcome;
  @Column({ name: 'request_id', type: 'varchar', length: 100 }) requestId: string;
}
