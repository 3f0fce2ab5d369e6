import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { formatIpv4 } from '../common/cidr.js';
import { IpAllocationEntity } from './network.entities.js';

export interface Owner {
  kind: string;
  id: string;
}

/**
 * Addresses of a VPC. The unique (vpc_id, address) constraint is the guarantee that no address is
 * handed out twice; the VPC row lock taken by the caller only keeps allocators from colliding.
 */
@Injectable()
export class IpamRepository {
  constructor(private readonly db: Database) {}

  /** Lowest free address in [first, last], or undefined when the range is exhausted. */
  async allocate(
    tx: Tx,
    vpcId: string,
    first: number,
    last: number,
    owner: Owner,
    quarantineSeconds: number,
  ): Promise<string | undefined> {
    await tx.query(
      `DELETE FROM ip_allocations
        WHERE vpc_id = $1 AND released_at IS NOT NULL AND released_at < now() - make_interval(secs => $2)`,
      [vpcId, quarantineSeconds],
    );
    // Addresses are handed out in order after the highest one taken (found through the unique
    // index, so O(log n)); once the range end is reached, the lowest gap is used. Quarantined
    // addresses keep their rows, so they are skipped either way.
    const insert = (candidates: string, params: unknown[]) =>
      tx.query(
        `INSERT INTO ip_allocations (vpc_id, address, owner_kind, owner_id)
         SELECT $1, c.address, $4, $5 FROM (${candidates}) AS c
          WHERE c.address BETWEEN $2::inet AND $3::inet
            AND NOT EXISTS (SELECT 1 FROM ip_allocations b WHERE b.vpc_id = $1 AND b.address = c.address)
          ORDER BY c.address
          LIMIT 1
         ON CONFLICT (vpc_id, address) DO NOTHING
         RETURNING host(address) AS address`,
        params,
      ) as Promise<{ address: string }[]>;
    const base = [vpcId, formatIpv4(first), formatIpv4(last), owner.kind, owner.id];
    let rows = await insert(
      `SELECT COALESCE((SELECT max(address) + 1 FROM ip_allocations WHERE vpc_id = $1 AND address >= $2::inet), $2::inet) AS address`,
      base,
    );
    if (rows.length === 0) {
      rows = await insert(
        `SELECT $2::inet AS address UNION ALL
         SELECT a.address + 1 FROM ip_allocations a WHERE a.vpc_id = $1 AND a.address >= $2::inet AND a.address < $3::inet`,
        base,
      );
    }
    return rows[0]?.address;
  }

  /** Starts the quarantine of every address the owner holds. */
  async release(tx: Tx | undefined, ownerId: string): Promise<number> {
    const res = await (tx ?? this.db.manager)
      .getRepository(IpAllocationEntity)
      .createQueryBuilder()
      .update()
      .set({ releasedAt: () => 'now()' })
      .where('owner_id = :ownerId AND released_at IS NULL', { ownerId })
      .execute();
    return res.affected ?? 0;
  }

  async addressOf(ownerId: string, tx?: Tx): Promise<string | undefined> {
    const rows: { address: string }[] = await (tx ?? this.db.manager).query(
      `SELECT host(address) AS address FROM ip_allocations WHERE owner_id = $1 AND released_at IS NULL LIMIT 1`,
      [ownerId],
    );
    return rows[0]?.address;
  }

  async countInUse(tx: Tx, vpcId: string): Promise<number> {
    const rows: { n: string }[] = await tx.query(
      `SELECT count(*) AS n FROM ip_allocations WHERE vpc_id = $1 AND released_at IS NULL`,
      [vpcId],
    );
    return Number(rows[0].n);
  }
}
