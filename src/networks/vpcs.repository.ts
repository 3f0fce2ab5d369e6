import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { VpcEntity } from './network.entities.js';

/** What an address allocation reads of its VPC. */
export type VpcForAllocation = Pick<VpcEntity, 'name' | 'cidr' | 'freeListCursor'>;

@Injectable()
export class VpcsRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(VpcEntity);
  }

  insert(tx: Tx, row: Pick<VpcEntity, 'tenantId' | 'name' | 'cidr' | 'gateway'>): Promise<VpcEntity> {
    return this.repo(tx).save(this.repo(tx).create({ ...row, state: 'Ready' }));
  }

  findForTenant(tenantId: string, id: string, tx?: Tx): Promise<VpcEntity | null> {
    return this.repo(tx).findOneBy({ tenantId, id });
  }

  findById(id: string, tx?: Tx): Promise<VpcEntity | null> {
    return this.repo(tx).findOneBy({ id });
  }

  lockForTenant(tx: Tx, tenantId: string, id: string): Promise<VpcEntity | null> {
    return this.repo(tx)
      .createQueryBuilder('v')
      .setLock('pessimistic_write')
      .where('v.id = :id AND v.tenant_id = :tenantId', { id, tenantId })
      .getOne();
  }

  /**
   * Reads the VPC and holds it (`FOR KEY SHARE`) until the transaction ends: it cannot be deleted
   * meanwhile (a deletion takes `FOR UPDATE`), while address allocations, which move its free-list
   * cursor, go on. A cluster's creation takes this, not `lockForTenant`: holding `FOR UPDATE` while
   * an allocation that holds `FOR KEY SHARE` moves the cursor would deadlock with it.
   */
  holdForTenant(tx: Tx, tenantId: string, id: string): Promise<VpcEntity | null> {
    return this.repo(tx)
      .createQueryBuilder('v')
      .setLock('for_key_share')
      .where('v.id = :id AND v.tenant_id = :tenantId', { id, tenantId })
      .getOne();
  }

  /**
   * Reads the VPC for an address allocation and holds it (`FOR KEY SHARE`) until the transaction
   * ends: allocators do not exclude one another, but a deletion (`FOR UPDATE`) waits for them, and
   * they for it. A plain query: it runs once per allocation.
   */
  async holdForAllocation(tx: Tx, tenantId: string, id: string): Promise<VpcForAllocation | null> {
    const rows: VpcForAllocation[] = await tx.query(
      `SELECT name, cidr::text AS cidr, free_list_cursor AS "freeListCursor"
         FROM vpcs WHERE id = $1 AND tenant_id = $2 FOR KEY SHARE`,
      [id, tenantId],
    );
    return rows[0] ?? null;
  }

  list(tenantId: string, limit: number, afterName?: string, name?: string): Promise<VpcEntity[]> {
    const qb = this.repo().createQueryBuilder('v').where('v.tenant_id = :tenantId', { tenantId });
    if (afterName !== undefined) qb.andWhere('v.name > :afterName', { afterName });
    if (name !== undefined) qb.andWhere('v.name = :name', { name });
    return qb.orderBy('v.name', 'ASC').limit(limit).getMany();
  }

  /** The tenant's VPCs whose CIDR overlaps the given one. */
  overlapping(tx: Tx, tenantId: string, cidr: string): Promise<VpcEntity[]> {
    return this.repo(tx)
      .createQueryBuilder('v')
      .where('v.tenant_id = :tenantId AND v.cidr && CAST(:cidr AS cidr)', { tenantId, cidr })
      .getMany();
  }

  /** How many VPCs of any tenant overlap the range (a new floating-IP range must not). */
  async countOverlappingAny(tx: Tx, cidr: string): Promise<number> {
    const rows: { n: string }[] = await tx.query(`SELECT count(*) AS n FROM vpcs WHERE cidr && CAST($1 AS cidr)`, [
      cidr,
    ]);
    return Number(rows[0].n);
  }

  /** Deletes the VPC and its quarantined addresses (its free list goes with it, on cascade). */
  async remove(tx: Tx, id: string): Promise<void> {
    await tx.query(`DELETE FROM ip_allocations WHERE vpc_id = $1 AND released_at IS NOT NULL`, [id]);
    await this.repo(tx).delete({ id });
  }
}
