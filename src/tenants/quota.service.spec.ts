import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { checkQuota, EMPTY_USAGE, QuotaService } from './quota.service.js';
import type { TenantsRepository } from './tenants.repository.js';
import { DEFAULT_QUOTA, type TenantEntity } from './tenant.entity.js';
import type { Tx } from '../common/database.js';

const quota = { ...DEFAULT_QUOTA, maxStorageGiB: 100, maxFloatingIps: 2 };

describe('checkQuota', () => {
  it('allows a request that fits exactly', () => {
    expect(checkQuota(quota, { ...EMPTY_USAGE, maxStorageGiB: 60 }, { maxStorageGiB: 40 })).toBeUndefined();
  });

  it('refuses one unit too many, naming the quota and the numbers', () => {
    const err = checkQuota(quota, { ...EMPTY_USAGE, maxStorageGiB: 60 }, { maxStorageGiB: 41 });
    expect(err).toBeInstanceOf(DomainError);
    expect(err?.code).toBe('QUOTA_EXCEEDED');
    expect(err?.details).toEqual({ quota: 'maxStorageGiB', limit: 100, used: 60, requested: 41 });
  });

  it('ignores quotas the request does not touch, even when already over', () => {
    expect(checkQuota(quota, { ...EMPTY_USAGE, maxFloatingIps: 5 }, { maxStorageGiB: 1 })).toBeUndefined();
  });

  it('refuses a zero quota for any positive request', () => {
    expect(checkQuota({ ...quota, maxClusters: 0 }, EMPTY_USAGE, { maxClusters: 1 })?.message).toMatch(/maxClusters/);
  });
});

describe('QuotaService', () => {
  const tenant = { id: 't1', ...quota } as TenantEntity;
  const tenants = {
    lockById: async (_tx: Tx, id: string) => (id === 't1' ? tenant : null),
  } as unknown as TenantsRepository;
  const tx = {} as Tx;

  it('adds up the usage that every module reports', async () => {
    const service = new QuotaService(tenants);
    service.registerUsageSource(async () => ({ maxStorageGiB: 30 }));
    service.registerUsageSource(async () => ({ maxStorageGiB: 20, maxFloatingIps: 1 }));
    expect(await service.usage('t1')).toEqual({ ...EMPTY_USAGE, maxStorageGiB: 50, maxFloatingIps: 1 });
  });

  it('reserves within the locked tenant row, or refuses', async () => {
    const service = new QuotaService(tenants);
    service.registerUsageSource(async () => ({ maxStorageGiB: 90 }));
    await expect(service.reserve(tx, 't1', { maxStorageGiB: 10 })).resolves.toBeUndefined();
    await expect(service.reserve(tx, 't1', { maxStorageGiB: 11 })).rejects.toThrow(/maxStorageGiB/);
    await expect(service.reserve(tx, 'nobody', { maxStorageGiB: 1 })).rejects.toThrow(/tenant nobody not found/);
  });
});
