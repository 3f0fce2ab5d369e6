import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import type { Tx } from '../common/database.js';
import { QUOTA_KEYS, type Quota } from './tenant.entity.js';
import { TenantsRepository } from './tenants.repository.js';

/** Usage in the same units as the quota, keyed like it. */
export type Usage = Record<keyof Quota, number>;

/** A module that owns allocations reports its share of a tenant's usage. */
export type UsageSource = (tx: Tx | undefined, tenantId: string) => Promise<Partial<Usage>>;

export const EMPTY_USAGE: Usage = Object.fromEntries(QUOTA_KEYS.map((k) => [k, 0])) as Usage;

const QUOTA_NAMES: Record<keyof Quota, string> = {
  maxClusters: 'maxClusters',
  maxNodes: 'maxNodes',
  maxVcpus: 'maxVcpus',
  maxMemoryMiB: 'maxMemoryMiB',
  maxStorageGiB: 'maxStorageGiB',
  maxFloatingIps: 'maxFloatingIps',
};

/** Checks a request against what is left; pure, so the rule is unit-tested on its own. */
export function checkQuota(quota: Quota, usage: Usage, request: Partial<Usage>): DomainError | undefined {
  for (const key of QUOTA_KEYS) {
    const want = request[key] ?? 0;
    if (want > 0 && usage[key] + want > quota[key]) {
      return DomainError.quota(QUOTA_NAMES[key], quota[key], usage[key], want);
    }
  }
  return undefined;
}

@Injectable()
export class QuotaService {
  private readonly sources: UsageSource[] = [];

  constructor(private readonly tenants: TenantsRepository) {}

  registerUsageSource(source: UsageSource): void {
    this.sources.push(source);
  }

  async usage(tenantId: string, tx?: Tx): Promise<Usage> {
    const total: Usage = { ...EMPTY_USAGE };
    for (const source of this.sources) {
      const part = await source(tx, tenantId);
      for (const key of QUOTA_KEYS) total[key] += part[key] ?? 0;
    }
    return total;
  }

  /**
   * Call inside the transaction that performs the allocation, before inserting it: the tenant row
   * stays locked until commit, so two concurrent requests cannot both take the last unit.
   */
  async reserve(tx: Tx, tenantId: string, request: Partial<Usage>): Promise<void> {
    const tenant = await this.tenants.lockById(tx, tenantId);
    if (!tenant) throw DomainError.notFound('tenant', tenantId);
    const error = checkQuota(tenant, await this.usage(tenantId, tx), request);
    if (error) throw error;
  }
}
