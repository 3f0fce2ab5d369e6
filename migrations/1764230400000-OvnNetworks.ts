import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenant networks move to OVN:
 * - a VPC's router takes an address on a provider network (its SNAT and gateway address): it is
 *   a row of floating_ips that names the VPC (never listed to the tenant, nor counted in quota),
 *   so allocation keeps one address space and one uniqueness rule;
 * - a floating IP reaches every Ready master through a load balancer: no holder any more;
 * - a cluster may lose its floating IP (`PATCH /v1/floating-ips/:id {clusterId: null}`);
 * - a host names its Open vSwitch chassis (system-id) when it is not the host's name.
 */
export class OvnNetworks1764230400000 implements MigrationInterface {
  name = 'OvnNetworks1764230400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE floating_ips ADD COLUMN vpc_id uuid REFERENCES vpcs(id) ON DELETE CASCADE`);
    await q.query(`CREATE UNIQUE INDEX uq_floating_ips_vpc ON floating_ips (vpc_id) WHERE vpc_id IS NOT NULL`);
    await q.query(`ALTER TABLE floating_ips DROP COLUMN holder_node_id`);
    await q.query(`ALTER TABLE clusters ALTER COLUMN floating_ip_id DROP NOT NULL`);
    await q.query(`ALTER TABLE hosts ADD COLUMN chassis varchar(253)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hosts DROP COLUMN chassis`);
    await q.query(`DELETE FROM clusters WHERE floating_ip_id IS NULL`);
    await q.query(`ALTER TABLE clusters ALTER COLUMN floating_ip_id SET NOT NULL`);
    await q.query(`ALTER TABLE floating_ips ADD COLUMN holder_node_id uuid`);
    await q.query(`DELETE FROM floating_ips WHERE vpc_id IS NOT NULL`);
    await q.query(`DROP INDEX uq_floating_ips_vpc`);
    await q.query(`ALTER TABLE floating_ips DROP COLUMN vpc_id`);
  }
}
