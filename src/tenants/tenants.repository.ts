import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { TenantEntity, type Quota } from './tenant.entity.js';

@Injectable()
export class TenantsRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(TenantEntity);
  }

  async insert(tx: Tx, name: string, quota: Quota): Promise<TenantEntity> {
    const entity = this.repo(tx).create({ name, ...quota });
    return this.repo(tx).save(entity);
  }

  findById(id: string, tx?: Tx): Promise<TenantEntity | null> {
    return this.repo(tx).findOneBy({ id });
  }

  findByName(name: string, tx?: Tx): Promise<TenantEntity | null> {
    return this.repo(tx).findOneBy({ name });
  }

  /** Locks the tenant's row until the transaction ends: allocations for one tenant queue here. */
  lockById(tx: Tx, id: string): Promise<TenantEntity | null> {
    return this.repo(tx).createQueryBuilder('t').setLock('pessimistic_write').where('t.id = :id', { id }).getOne();
  }

  async list(limit: number, afterName?: string, name?: string): Promise<TenantEntity[]> {
    const qb = this.repo().createQueryBuilder('t').where('true').orderBy('t.name', 'ASC').limit(limit);
    if (afterName !== undefined) qb.andWhere('t.name > :afterName', { afterName });
    if (name !== undefined) qb.andWhere('t.name = :name', { name });
    return qb.getMany();
  }

  async updateQuota(tx: Tx, id: string, quota: Quota): Promise<void> {
    await this.repo(tx).update({ id }, quota);
  }
}
