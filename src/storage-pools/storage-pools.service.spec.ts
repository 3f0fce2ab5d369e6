import { describe, expect, it } from '@jest/globals';
import type { AuthContext } from '../common/auth-context.js';
import type { Database, Tx } from '../common/database.js';
import type { QuotaService } from '../tenants/quota.service.js';
import type { StoragePoolEntity } from './storage-pool.entity.js';
import type { StoragePoolsRepository } from './storage-pools.repository.js';
import { StoragePoolsService } from './storage-pools.service.js';

const auth: AuthContext = { kind: 'tenant', tenantId: 't1', principalId: 'key:1' };

function setup(volumes = 0) {
  const pools: StoragePoolEntity[] = [];
  const reserved: unknown[] = [];
  const repo = {
    insert: async (_tx: Tx, row: Pick<StoragePoolEntity, 'tenantId' | 'name' | 'capacityGiB'>) => {
      const p = { ...row, id: `p${pools.length}`, state: 'Ready', createdAt: new Date(0) } as StoragePoolEntity;
      pools.push(p);
      return p;
    },
    lockForTenant: async (_tx: Tx, tenantId: string, id: string) =>
      pools.find((p) => p.tenantId === tenantId && p.id === id) ?? null,
    countVolumes: async () => volumes,
    remove: async (_tx: Tx, id: string) =>
      void pools.splice(
        pools.findIndex((p) => p.id === id),
        1,
      ),
  } as unknown as StoragePoolsRepository;
  const quotas = {
    reserve: async (_tx: Tx, tenantId: string, req: unknown) => void reserved.push([tenantId, req]),
    registerUsageSource: () => undefined,
  } as unknown as QuotaService;
  const db = { transaction: (work: (tx: Tx) => Promise<unknown>) => work({} as Tx) } as unknown as Database;
  return { service: new StoragePoolsService(db, repo, quotas), pools, reserved };
}

describe('StoragePoolsService', () => {
  it('reserves storage quota for the caller before inserting', async () => {
    const { service, reserved, pools } = setup();
    const res = await service.create(auth, 'fast', 50);
    expect(reserved).toEqual([['t1', { maxStorageGiB: 50 }]]);
    expect(pools[0]).toEqual(expect.objectContaining({ tenantId: 't1', name: 'fast', capacityGiB: 50 }));
    expect(res).toEqual(expect.objectContaining({ name: 'fast', capacityGiB: 50, allocatedGiB: 0, state: 'Ready' }));
  });

  it('refuses to delete a pool that still holds volumes', async () => {
    const { service, pools } = setup(2);
    const created = await service.create(auth, 'busy', 5);
    await expect(service.remove(auth, created.id)).rejects.toThrow(/still holds 2 volume/);
    expect(pools).toHaveLength(1);
  });

  it("answers 404 for another tenant's pool", async () => {
    const { service } = setup();
    const created = await service.create(auth, 'mine', 5);
    await expect(service.remove({ kind: 'tenant', tenantId: 't2', principalId: 'k' }, created.id)).rejects.toThrow(
      /not found/,
    );
  });
});
