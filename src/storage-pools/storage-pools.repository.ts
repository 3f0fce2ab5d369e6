import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { StoragePoolEntity, VolumeEntity } from './storage-pool.entity.js';

@Injectable()
export class StoragePoolsRepository {
  constructor(private readonly db: Database) {}

  private pools(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(StoragePoolEntity);
  }

  private volumes(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(VolumeEntity);
  }

  insert(tx: Tx, row: Pick<StoragePoolEntity, 'tenantId' | 'name' | 'capacityGiB'>): Promise<StoragePoolEntity> {
    return this.pools(tx).save(this.pools(tx).create({ ...row, state: 'Ready' }));
  }

  findById(id: string, tx?: Tx): Promise<StoragePoolEntity | null> {
    return this.pools(tx).findOneBy({ id });
  }

  /** Which of these storage pools exist. */
  async existingIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.pools()
      .createQueryBuilder('p')
      .select('p.id')
      .where('p.id = ANY(:ids::uuid[])', { ids })
      .getMany();
    return new Set(rows.map((r) => r.id));
  }

  findForTenant(tenantId: string, id: string, tx?: Tx): Promise<StoragePoolEntity | null> {
    return this.pools(tx).findOneBy({ tenantId, id });
  }

  lockForTenant(tx: Tx, tenantId: string, id: string): Promise<StoragePoolEntity | null> {
    return this.pools(tx)
      .createQueryBuilder('p')
      .setLock('pessimistic_write')
      .where('p.id = :id AND p.tenant_id = :tenantId', { id, tenantId })
      .getOne();
  }

  list(tenantId: string, limit: number, afterName?: string, name?: string): Promise<StoragePoolEntity[]> {
    const qb = this.pools().createQueryBuilder('p').where('p.tenant_id = :tenantId', { tenantId });
    if (afterName !== undefined) qb.andWhere('p.name > :afterName', { afterName });
    if (name !== undefined) qb.andWhere('p.name = :name', { name });
    return qb.orderBy('p.name', 'ASC').limit(limit).getMany();
  }

  async remove(tx: Tx, id: string): Promise<void> {
    await this.pools(tx).delete({ id });
  }

  /** GiB allocated per pool, for the pools given. */
  async allocated(poolIds: string[], tx?: Tx): Promise<Map<string, number>> {
    const out = new Map<string, number>(poolIds.map((id) => [id, 0]));
    if (poolIds.length === 0) return out;
    const rows = await this.volumes(tx)
      .createQueryBuilder('v')
      .select('v.pool_id', 'poolId')
      .addSelect('COALESCE(SUM(v.capacity_gib), 0)', 'gib')
      .where('v.pool_id IN (:...poolIds)', { poolIds })
      .groupBy('v.pool_id')
      .getRawMany<{ poolId: string; gib: string }>();
    for (const r of rows) out.set(r.poolId, Number(r.gib));
    return out;
  }

  async countVolumes(tx: Tx, poolId: string): Promise<number> {
    return this.volumes(tx).countBy({ poolId });
  }

  async totalCapacity(tenantId: string, tx?: Tx): Promise<number> {
    const row = await this.pools(tx)
      .createQueryBuilder('p')
      .select('COALESCE(SUM(p.capacity_gib), 0)', 'gib')
      .where('p.tenant_id = :tenantId', { tenantId })
      .getRawOne<{ gib: string }>();
    return Number(row?.gib ?? 0);
  }
}
