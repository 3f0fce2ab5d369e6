import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Networks1764208800000 implements MigrationInterface {
  name = 'Networks1764208800000';

  async up(q: QueryRunner): Promise<void> {
    // btree_gist lets one exclusion constraint say "no two VPCs of one tenant overlap".
    await q.query(`CREATE EXTENSION IF NOT EXISTS btree_gist`);
    await q.query(`CREATE TABLE vpcs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name varchar(63) NOT NULL,
      cidr cidr NOT NULL CHECK (family(cidr) = 4 AND masklen(cidr) BETWEEN 16 AND 28),
      gateway inet NOT NULL,
      state varchar(16) NOT NULL DEFAULT 'Ready',
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_vpcs_tenant_name UNIQUE (tenant_id, name),
      CONSTRAINT ex_vpcs_tenant_overlap EXCLUDE USING gist (tenant_id WITH =, cidr inet_ops WITH &&)
    )`);
    await q.query(`CREATE TABLE ip_allocations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      vpc_id uuid NOT NULL REFERENCES vpcs(id) ON DELETE RESTRICT,
      address inet NOT NULL,
      owner_kind varchar(16) NOT NULL,
      owner_id uuid NOT NULL,
      released_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_ip_allocations_vpc_address UNIQUE (vpc_id, address)
    )`);
    await q.query(`CREATE INDEX ix_ip_allocations_owner ON ip_allocations (owner_id)`);
    await q.query(
      `CREATE INDEX ix_ip_allocations_quarantine ON ip_allocations (vpc_id, released_at) WHERE released_at IS NOT NULL`,
    );
    await q.query(`CREATE TABLE floating_ip_ranges (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      start_address inet NOT NULL,
      end_address inet NOT NULL CHECK (end_address >= start_address),
      cidr cidr,
      provider_cidr cidr NOT NULL,
      gateway inet NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE floating_ips (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      range_id uuid NOT NULL REFERENCES floating_ip_ranges(id) ON DELETE RESTRICT,
      address inet NOT NULL,
      cluster_id uuid,
      holder_node_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_floating_ips_address UNIQUE (address)
    )`);
    await q.query(`CREATE INDEX ix_floating_ips_tenant ON floating_ips (tenant_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE floating_ips`);
    await q.query(`DROP TABLE floating_ip_ranges`);
    await q.query(`DROP TABLE ip_allocations`);
    await q.query(`DROP TABLE vpcs`);
  }
}
