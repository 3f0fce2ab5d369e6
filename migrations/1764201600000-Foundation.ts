import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1764201600000 implements MigrationInterface {
  name = 'Foundation1764201600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE tenants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name varchar(63) NOT NULL,
      max_clusters integer NOT NULL CHECK (max_clusters >= 0),
      max_nodes integer NOT NULL CHECK (max_nodes >= 0),
      max_vcpus integer NOT NULL CHECK (max_vcpus >= 0),
      max_memory_mib integer NOT NULL CHECK (max_memory_mib >= 0),
      max_storage_gib integer NOT NULL CHECK (max_storage_gib >= 0),
      max_floating_ips integer NOT NULL CHECK (max_floating_ips >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_tenants_name UNIQUE (name)
    )`);
    await q.query(`CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
      prefix varchar(32) NOT NULL,
      secret_hash bytea NOT NULL,
      description varchar(200),
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      CONSTRAINT uq_api_keys_prefix UNIQUE (prefix)
    )`);
    await q.query(`CREATE INDEX ix_api_keys_tenant ON api_keys (tenant_id)`);
    await q.query(`CREATE TABLE idempotency_records (
      principal varchar(80) NOT NULL,
      idempotency_key varchar(255) NOT NULL,
      request_hash varchar(64) NOT NULL,
      status_code integer,
      response_body jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (principal, idempotency_key)
    )`);
    await q.query(`CREATE INDEX ix_idempotency_created ON idempotency_records (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_records`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE tenants`);
  }
}
