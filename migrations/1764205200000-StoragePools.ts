import type { MigrationInterface, QueryRunner } from 'typeorm';

export class StoragePools1764205200000 implements MigrationInterface {
  name = 'StoragePools1764205200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE storage_pools (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name varchar(63) NOT NULL,
      capacity_gib integer NOT NULL CHECK (capacity_gib > 0),
      state varchar(16) NOT NULL DEFAULT 'Ready',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_storage_pools_tenant_name UNIQUE (tenant_id, name)
    )`);
    await q.query(`CREATE TABLE volumes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      pool_id uuid NOT NULL REFERENCES storage_pools(id) ON DELETE RESTRICT,
      name varchar(128) NOT NULL,
      capacity_gib integer NOT NULL CHECK (capacity_gib > 0),
      owner_kind varchar(16),
      owner_id uuid,
      host_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_volumes_pool_name UNIQUE (pool_id, name)
    )`);
    await q.query(`CREATE INDEX ix_volumes_pool ON volumes (pool_id)`);
    await q.query(`CREATE INDEX ix_volumes_owner ON volumes (owner_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE volumes`);
    await q.query(`DROP TABLE storage_pools`);
  }
}
