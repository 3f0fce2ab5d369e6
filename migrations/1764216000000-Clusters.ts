import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Clusters1764216000000 implements MigrationInterface {
  name = 'Clusters1764216000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE clusters (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name varchar(63) NOT NULL,
      control_plane varchar(32) NOT NULL,
      version varchar(32) NOT NULL,
      masters integer NOT NULL CHECK (masters IN (1, 3, 5)),
      workers integer NOT NULL CHECK (workers BETWEEN 0 AND 100),
      vcpus integer NOT NULL CHECK (vcpus > 0),
      memory_mib integer NOT NULL CHECK (memory_mib > 0),
      disk_gib integer NOT NULL CHECK (disk_gib > 0),
      vpc_id uuid NOT NULL REFERENCES vpcs(id) ON DELETE RESTRICT,
      storage_pool_id uuid NOT NULL REFERENCES storage_pools(id) ON DELETE RESTRICT,
      floating_ip_id uuid NOT NULL REFERENCES floating_ips(id) ON DELETE RESTRICT,
      image_id uuid REFERENCES images(id) ON DELETE RESTRICT,
      phase varchar(16) NOT NULL DEFAULT 'Pending',
      conditions jsonb NOT NULL DEFAULT '[]',
      paused boolean NOT NULL DEFAULT false,
      settings jsonb NOT NULL DEFAULT '{}',
      generation integer NOT NULL DEFAULT 1,
      deleting_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    // A deleted cluster's name may be reused while its teardown finishes.
    await q.query(
      `CREATE UNIQUE INDEX uq_clusters_tenant_name ON clusters (tenant_id, name) WHERE deleting_at IS NULL`,
    );
    await q.query(`CREATE UNIQUE INDEX uq_clusters_floating_ip ON clusters (floating_ip_id)`);
    await q.query(`CREATE TABLE cluster_secrets (
      cluster_id uuid PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
      sealed text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE nodes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE RESTRICT,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name varchar(63) NOT NULL,
      ordinal integer NOT NULL,
      role varchar(8) NOT NULL CHECK (role IN ('master', 'worker')),
      host_id uuid REFERENCES hosts(id) ON DELETE RESTRICT,
      vcpus integer NOT NULL,
      memory_mib integer NOT NULL,
      disk_gib integer NOT NULL,
      address inet,
      mac macaddr NOT NULL,
      phase varchar(16) NOT NULL DEFAULT 'Pending',
      conditions jsonb NOT NULL DEFAULT '[]',
      last_heartbeat_at timestamptz,
      ready_at timestamptz,
      unhealthy_since timestamptz,
      failing_since timestamptz,
      replace_requested_at timestamptz,
      delete_requested_at timestamptz,
      delete_reason varchar(200),
      replaces_node_id uuid,
      boot_started_at timestamptz,
      usage jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_nodes_cluster_name UNIQUE (cluster_id, name),
      CONSTRAINT uq_nodes_mac UNIQUE (mac)
    )`);
    await q.query(`CREATE INDEX ix_nodes_cluster ON nodes (cluster_id)`);
    await q.query(`CREATE INDEX ix_nodes_host ON nodes (host_id)`);
    await q.query(`CREATE TABLE events (
      id bigserial PRIMARY KEY,
      tenant_id uuid NOT NULL,
      cluster_id uuid NOT NULL,
      node_id uuid,
      type varchar(8) NOT NULL CHECK (type IN ('Normal', 'Warning')),
      reason varchar(64) NOT NULL,
      message varchar(2000) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX ix_events_cluster ON events (cluster_id, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE events`);
    await q.query(`DROP TABLE nodes`);
    await q.query(`DROP TABLE cluster_secrets`);
    await q.query(`DROP TABLE clusters`);
  }
}
