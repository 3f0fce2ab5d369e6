import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A free list of each VPC's addresses, so that concurrent allocators take different rows
 * (`FOR UPDATE SKIP LOCKED`) instead of queueing on the VPC row to scan `ip_allocations`.
 * The list is filled lazily in blocks: `vpcs.free_list_cursor` is the offset from the network
 * address of the first address never put on it (2 is the first host, after the gateway).
 * `ip_allocations` and its unique (vpc_id, address) constraint stay the record of what is taken.
 *
 * An existing VPC continues after the highest address it has handed out; the addresses below it
 * that no row holds (released rows whose quarantine ended were deleted) go on the list now.
 * Quarantined rows stay in `ip_allocations` and come back to the list once their quarantine is over.
 */
export class IpFreeList1764255600000 implements MigrationInterface {
  name = 'IpFreeList1764255600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ip_free_addresses (
      vpc_id uuid NOT NULL REFERENCES vpcs(id) ON DELETE CASCADE,
      address inet NOT NULL,
      CONSTRAINT pk_ip_free_addresses PRIMARY KEY (vpc_id, address)
    )`);
    await q.query(`ALTER TABLE vpcs ADD COLUMN free_list_cursor integer NOT NULL DEFAULT 2`);
    await q.query(`UPDATE vpcs v SET free_list_cursor = GREATEST(2, (t.highest - v.cidr)::integer + 1)
      FROM (SELECT vpc_id, max(address) AS highest FROM ip_allocations GROUP BY vpc_id) t
      WHERE t.vpc_id = v.id`);
    await q.query(`INSERT INTO ip_free_addresses (vpc_id, address)
      SELECT v.id, set_masklen(v.cidr::inet, 32) + g
        FROM vpcs v, generate_series(2, v.free_list_cursor - 1) AS g
       WHERE NOT EXISTS (
         SELECT 1 FROM ip_allocations a WHERE a.vpc_id = v.id AND a.address = set_masklen(v.cidr::inet, 32) + g
       )`);
  }

  async down(q: QueryRunner): Promise<void> {
    // ip_allocations alone is what the allocator before this migration reads: nothing is lost.
    await q.query(`ALTER TABLE vpcs DROP COLUMN free_list_cursor`);
    await q.query(`DROP TABLE ip_free_addresses`);
  }
}
