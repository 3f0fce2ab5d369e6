import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('idempotency_records')
export class IdempotencyRecordEntity {
  @PrimaryColumn({ type: 'varchar', length: 80 })
  principal: string;

  @PrimaryColumn({ name: 'idempotency_key', type: 'varchar', length: 255 })
  key: string;

  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash: string;

  /** Null while the first request with this key is still running. */
  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode: number | null;

  /**
   * The stored answer (sealed); while in progress, the resource the request has created, if it
   * has (see IdempotencyEffects).
   */
  @Column({ name: 'response_body', type: 'jsonb', nullable: true })
  responseBody: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
