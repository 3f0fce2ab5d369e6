import { Injectable, type OnModuleInit } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, isUniqueViolation, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { decodeCursor, toPage, type Page } from '../common/pagination.js';
import { QuotaService } from '../tenants/quota.service.js';
import { type StoragePoolResponse, toStoragePoolResponse } from './storage-pools.dto.js';
import { StoragePoolsRepository } from './storage-pools.repository.js';

/** Reports why a pool cannot be deleted (a module referencing pools registers one). */
export type PoolInUseCheck = (tx: Tx, poolId: string) => Promise<string | undefined>;

@Injectable()
export class StoragePoolsService implements OnModuleInit {
  private readonly inUseChecks: PoolInUseCheck[] = [];

  registerInUseCheck(check: PoolInUseCheck): void {
    this.inUseChecks.push(check);
  }

  constructor(
    private readonly db: Database,
    private readonly pools: StoragePoolsRepository,
    private readonly quotas: QuotaService,
  ) {}

  onModuleInit(): void {
    this.quotas.registerUsageSource(async (tx, tenantId) => ({
      maxStorageGiB: await this.pools.totalCapacity(tenantId, tx),
    }));
  }

  async create(auth: AuthContext, name: string, capacityGiB: number): Promise<StoragePoolResponse> {
    const tenantId = tenantOf(auth);
    try {
      const pool = await this.db.transaction(async (tx) => {
        await this.quotas.reserve(tx, tenantId, { maxStorageGiB: capacityGiB });
        return this.pools.insert(tx, { tenantId, name, capacityGiB });
      });
      return toStoragePoolResponse(pool, 0);
    } catch (err) {
      if (isUniqueViolation(err, 'uq_storage_pools_tenant_name')) {
        throw DomainError.conflict(`a storage pool named "${name}" already exists`);
      }
      throw err;
    }
  }

  async get(auth: AuthContext, id: string): Promise<StoragePoolResponse> {
    const pool = await this.pools.findForTenant(tenantOf(auth), id);
    if (!pool) throw DomainError.notFound('storage pool', id);
    const allocated = await this.pools.allocated([id]);
    return toStoragePoolResponse(pool, allocated.get(id) ?? 0);
  }

  async list(auth: AuthContext, limit = 100, cursor?: string, name?: string): Promise<Page<StoragePoolResponse>> {
    const after = decodeCursor(cursor, ['name']);
    const rows = await this.pools.list(tenantOf(auth), limit + 1, after?.name, name);
    const allocated = await this.pools.allocated(rows.map((r) => r.id));
    return toPage(
      rows,
      limit,
      (p) => toStoragePoolResponse(p, allocated.get(p.id) ?? 0),
      (p) => ({ name: p.name }),
    );
  }

  async remove(auth: AuthContext, id: string): Promise<void> {
    const tenantId = tenantOf(auth);
    await this.db.transaction(async (tx) => {
      const pool = await this.pools.lockForTenant(tx, tenantId, id);
      if (!pool) throw DomainError.notFound('storage pool', id);
      const volumes = await this.pools.countVolumes(tx, id);
      if (volumes > 0) {
        throw DomainError.conflict(`storage pool "${pool.name}" still holds ${volumes} volume(s)`, { volumes });
      }
      for (const check of this.inUseChecks) {
        const reason = await check(tx, id);
        if (reason) throw DomainError.conflict(`storage pool "${pool.name}" is in use: ${reason}`);
      }
      await this.pools.remove(tx, id);
    });
  }
}
