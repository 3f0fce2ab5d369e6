import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { formatIpv4, parseIpv4 } from '../common/cidr.js';
import { IpAllocationEntity } from './network.entities.js';

export interface Owner {
  kind: string;
  id: string;
}

/** The addresses of a VPC that may go to owners, as numbers (see `common/cidr.ts`). */
export interface AllocationRange {
  /** The VPC's network address: the free-list cursor counts from it. */
  network: number;
  first: number;
  last: number;
}

/** How many addresses one step of the free-list cursor puts on the list. */
export const FREE_LIST_BLOCK = 256;

/**
 * Where a take looks: above the highest address allocated (in order, and past the rows earlier
 * takes deleted, which stay in the index until vacuumed), or from the first address (the gaps).
 */
type TakeFrom = 'after-highest' | 'lowest';

/**
 * Addresses of a VPC. `ip_allocations` records what is taken, and its unique (vpc_id, address)
 * constraint is the guarantee that no address is handed out twice. `ip_free_addresses` lists
 * addresses that may be taken: an allocator takes a row no other allocator holds
 * (`FOR UPDATE SKIP LOCKED`), deletes it and inserts the allocation in one statement, so allocators
 * of one VPC do not queue behind each other. A rolled-back allocation leaves its row on the list.
 */
@Injectable()
export class IpamRepository {
  constructor(private readonly db: Database) {}

  /**
   * A free address in [first, last] for the owner, or undefined when the VPC has none.
   * `cursor` is the VPC's `free_list_cursor` as read under the caller's hold on the VPC row.
   * As before there was a list: addresses are handed out in order after the highest one taken,
   * then the lowest gap; released ones come back once the range has been listed whole and their
   * quarantine is over.
   */
  async allocate(
    tx: Tx,
    vpcId: string,
    range: AllocationRange,
    cursor: number,
    owner: Owner,
    quarantineSeconds: number,
    /** An address `holdAndTake` took already, after the highest one (it then has looked there). */
    takenAfterHighest?: string,
  ): Promise<string | undefined> {
    const lastOffset = range.last - range.network;
    const taken =
      takenAfterHighest ??
      (await this.take(tx, vpcId, range, owner, 'after-highest', false)) ??
      (await this.take(tx, vpcId, range, owner, 'lowest', false));
    if (taken) {
      // The allocation that takes the middle address of a block lists the next one if it is not
      // listed yet: one allocation per block, so that allocators seldom find the list empty and
      // wait for one another to fill it.
      const offset = parseIpv4(taken)! - range.network;
      const first = range.first - range.network;
      if (cursor <= lastOffset && (offset - first) % FREE_LIST_BLOCK === FREE_LIST_BLOCK / 2) {
        await this.extendFreeList(tx, vpcId, range, { aheadUntil: offset + FREE_LIST_BLOCK });
      }
      return taken;
    }
    // Nothing listed is free: list the next block, unless another allocator has moved the cursor
    // meanwhile (its rows are visible once its extension is committed, which this waits for).
    // Rows this transaction lists are its own until it commits, so the take finds them.
    let seen = cursor;
    while (seen <= lastOffset) {
      const step = await this.extendFreeList(tx, vpcId, range, { after: seen });
      const listed = await this.take(tx, vpcId, range, owner, 'lowest', false);
      if (listed) return listed;
      const now = step.cursor ?? (await this.cursorOf(tx, vpcId));
      if (now === seen) break;
      seen = now;
    }
    if ((await this.recycleQuarantined(tx, vpcId, range, quarantineSeconds)) > 0) {
      const recycled = await this.take(tx, vpcId, range, owner, 'lowest', false);
      if (recycled) return recycled;
    }
    // What is left on the list is held by allocators still running; one may roll back, so "full"
    // is only the answer once they have finished.
    return this.take(tx, vpcId, range, owner, 'lowest', true);
  }

  /**
   * Moves the lowest listed address (of those `from` looks at) from the free list to
   * `ip_allocations`; with `wait`, waits for rows other allocators hold instead of skipping them.
   * A listed address that is somehow also allocated loses its list row and the next one is tried:
   * the unique constraint has the last word.
   */
  private async take(
    tx: Tx,
    vpcId: string,
    range: AllocationRange,
    owner: Owner,
    from: TakeFrom,
    wait: boolean,
  ): Promise<string | undefined> {
    while (true) {
      const rows: { address: string | null; taken: number }[] = await tx.query(
        `WITH ${takeSql(from, wait, 'TRUE')}
         SELECT (SELECT host(address) FROM granted) AS address, (SELECT count(*) FROM taken)::int AS taken`,
        [vpcId, formatIpv4(range.first), formatIpv4(range.last), owner.kind, owner.id],
      );
      if (rows[0].address) return rows[0].address;
      if (rows[0].taken === 0) return undefined;
    }
  }

  /**
   * Holds the tenant's VPC (`FOR KEY SHARE`, as `VpcsRepository.holdForAllocation`) and takes the
   * lowest listed address after the highest one allocated, in one statement: the usual case of an
   * allocation in one round trip. `range` comes from the VPC's CIDR, which never changes. Null when
   * the tenant has no such VPC; `address` is absent when nothing was taken that way (`allocate`
   * then looks further, under the hold).
   */
  async holdAndTake(
    tx: Tx,
    tenantId: string,
    vpcId: string,
    range: AllocationRange,
    owner: Owner,
  ): Promise<{ name: string; cidr: string; freeListCursor: number; address?: string } | null> {
    const rows: { name: string; cidr: string; freeListCursor: number; address: string | null }[] = await tx.query(
      `WITH held AS (
         SELECT name, cidr::text AS cidr, free_list_cursor FROM vpcs WHERE id = $1 AND tenant_id = $6 FOR KEY SHARE
       ), ${takeSql('after-highest', false, 'EXISTS (SELECT 1 FROM held)')}
       SELECT held.name, held.cidr, held.free_list_cursor AS "freeListCursor",
              (SELECT host(address) FROM granted) AS address
         FROM held`,
      [vpcId, formatIpv4(range.first), formatIpv4(range.last), owner.kind, owner.id, tenantId],
    );
    if (rows.length === 0) return null;
    const { address, ...vpc } = rows[0];
    return address ? { ...vpc, address } : vpc;
  }

  /**
   * Moves the VPC's cursor one block on and lists the addresses of that block no row of
   * `ip_allocations` holds. The update of the VPC row (`FOR NO KEY UPDATE`, which allocators'
   * `FOR KEY SHARE` allows) makes concurrent extensions list different blocks. `after`: only if
   * the cursor is still the one the caller saw (waiting for an extension under way, if any).
   * `aheadUntil` (listing before the list runs out): only while the cursor is at most that offset,
   * and not at all if another allocator is extending the list at the time. Returns the new cursor
   * when it moved it.
   */
  private async extendFreeList(
    tx: Tx,
    vpcId: string,
    range: AllocationRange,
    when: { after: number } | { aheadUntil: number },
  ): Promise<{ listed: number; cursor?: number }> {
    const claim =
      'after' in when
        ? `SELECT id FROM vpcs WHERE id = $1 AND free_list_cursor = $6 FOR NO KEY UPDATE`
        : `SELECT id FROM vpcs WHERE id = $1 AND free_list_cursor <= $6 FOR NO KEY UPDATE SKIP LOCKED`;
    const rows: { cursor: number | null; listed: number }[] = await tx.query(
      `WITH claim AS (${claim}), block AS (
         UPDATE vpcs v SET free_list_cursor = GREATEST(v.free_list_cursor, $2) + $4
           FROM claim
          WHERE v.id = claim.id AND GREATEST(v.free_list_cursor, $2) <= $3
         RETURNING v.free_list_cursor - $4 AS start, LEAST(v.free_list_cursor, $3 + 1) AS stop, v.free_list_cursor
       ), listed AS (
         INSERT INTO ip_free_addresses (vpc_id, address)
         SELECT $1, $5::inet + g FROM block, generate_series(block.start, block.stop - 1) AS g
          WHERE NOT EXISTS (SELECT 1 FROM ip_allocations a WHERE a.vpc_id = $1 AND a.address = $5::inet + g)
         ON CONFLICT (vpc_id, address) DO NOTHING
         RETURNING 1
       )
       SELECT (SELECT free_list_cursor FROM block) AS cursor, (SELECT count(*) FROM listed)::int AS listed`,
      [
        vpcId,
        range.first - range.network,
        range.last - range.network,
        FREE_LIST_BLOCK,
        formatIpv4(range.network),
        'after' in when ? when.after : when.aheadUntil,
      ],
    );
    return { listed: rows[0].listed, cursor: rows[0].cursor ?? undefined };
  }

  private async cursorOf(tx: Tx, vpcId: string): Promise<number> {
    const rows: { cursor: number }[] = await tx.query(`SELECT free_list_cursor AS cursor FROM vpcs WHERE id = $1`, [
      vpcId,
    ]);
    return rows[0].cursor;
  }

  /**
   * Puts the VPC's released addresses whose quarantine is over back on its free list; returns how
   * many. Runs only once the range has been listed whole and the list is empty, so it costs one
   * probe of the quarantine index then, and nothing on the ordinary path.
   */
  private async recycleQuarantined(
    tx: Tx,
    vpcId: string,
    range: AllocationRange,
    quarantineSeconds: number,
  ): Promise<number> {
    const rows: { recycled: number }[] = await tx.query(
      `WITH ended AS (
         DELETE FROM ip_allocations
          WHERE vpc_id = $1 AND released_at IS NOT NULL AND released_at < now() - make_interval(secs => $2)
         RETURNING address
       ), listed AS (
         INSERT INTO ip_free_addresses (vpc_id, address)
         SELECT $1, address FROM ended WHERE address BETWEEN $3::inet AND $4::inet
         ON CONFLICT (vpc_id, address) DO NOTHING
         RETURNING 1
       )
       SELECT count(*)::int AS recycled FROM listed`,
      [vpcId, quarantineSeconds, formatIpv4(range.first), formatIpv4(range.last)],
    );
    return rows[0].recycled;
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

/**
 * The CTEs of a take ($1 the VPC, $2..$3 the range, $4..$5 the owner): pick the lowest listed
 * address (after the highest allocated one, or anywhere) no other allocator holds, move it from
 * the free list to `ip_allocations`. `taken` counts what left the list, `granted` what was
 * allocated (a listed address that is somehow allocated already loses its row and gives none).
 */
function takeSql(from: TakeFrom, wait: boolean, guard: string): string {
  const above =
    from === 'after-highest'
      ? `AND address > COALESCE((SELECT max(a.address) FROM ip_allocations a
                                  WHERE a.vpc_id = $1 AND a.address BETWEEN $2::inet AND $3::inet), $2::inet - 1)`
      : '';
  return `pick AS (
           SELECT address FROM ip_free_addresses
            WHERE vpc_id = $1 AND ${guard} AND address BETWEEN $2::inet AND $3::inet ${above}
            ORDER BY address
            LIMIT 1
            FOR UPDATE ${wait ? '' : 'SKIP LOCKED'}
         ), taken AS (
           DELETE FROM ip_free_addresses f USING pick
            WHERE f.vpc_id = $1 AND f.address = pick.address
           RETURNING f.address
         ), granted AS (
           INSERT INTO ip_allocations (vpc_id, address, owner_kind, owner_id)
           SELECT $1, address, $4, $5 FROM taken
           ON CONFLICT (vpc_id, address) DO NOTHING
           RETURNING address
         )`;
}
