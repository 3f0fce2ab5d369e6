import { Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import { Database, type Tx } from '../common/database.js';
import { ApiKeyEntity } from './api-key.entity.js';

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(ApiKeyEntity);
  }

  async insert(
    tx: Tx | undefined,
    row: { tenantId: string | null; prefix: string; secretHash: Buffer; description: string | null },
  ): Promise<ApiKeyEntity> {
    return this.repo(tx).save(this.repo(tx).create(row));
  }

  findActiveByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    return this.repo().findOneBy({ prefix, revokedAt: IsNull() });
  }

  findForTenant(tenantId: string | null, id: string): Promise<ApiKeyEntity | null> {
    return this.repo().findOneBy({ id, tenantId: tenantId ?? IsNull() });
  }

  listForTenant(tenantId: string | null): Promise<ApiKeyEntity[]> {
    return this.repo().find({ where: { tenantId: tenantId ?? IsNull() }, order: { createdAt: 'ASC' } });
  }

  async revoke(id: string): Promise<void> {
    await this.repo().update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
  }
}
