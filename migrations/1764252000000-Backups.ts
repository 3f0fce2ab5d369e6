import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Backups: an etcd snapshot of a cluster's control plane, stored as a volume in the cluster's
 * storage pool (a `volumes` row of owner kind 'backup' counts it against the pool). A backup
 * outlives its cluster (no foreign key to it); a cluster made from a backup remembers which one
 * and when its restore finished.
 */
export class Backups1764252000000 implements MigrationInterface {
  name = 'Backups1764252000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE backups (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      cluster_id uuid NOT NULL,
      cluster_name varchar(63) NOT NULL,
      control_plane varchar(32) NOT NULL,
      version varchar(32) NOT NULL,
      storage_pool_id uuid NOT NULL REFERENCES storage_pools(id),
      host_id uuid,
      trigger varchar(16) NOT NULL,
      phase varchar(16) NOT NULL,
      message varchar(500),
      size_bytes bigint NOT NULL DEFAULT 0,
      sha256 varchar(64),
      -- Milliseconds, as the API's page cursors carry them.
      created_at timestamptz(3) NOT NULL DEFAULT now(),
      started_at timestamptz,
      completed_at timestamptz
    )`);
    await q.query(`CREATE INDEX ix_backups_tenant_created ON backups (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX ix_backups_cluster_created ON backups (cluster_id, created_at DESC, id DESC)`);
    await q.query(`ALTER TABLE clusters ADD COLUMN restore_backup_id uuid, ADD COLUMN restored_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clusters DROP COLUMN restore_backup_id, DROP COLUMN restored_at`);
    await q.query(`DELETE FROM volumes WHERE owner_kind = 'backup'`);
    await q.query(`DROP TABLE backups`);
  }
}
