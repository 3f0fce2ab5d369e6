import { Inject, Injectable } from '@nestjs/common';
import { type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import { HostsRepository } from '../hypervisor/hosts.repository.js';
import { StoragePoolsRepository } from '../storage-pools/storage-pools.repository.js';
import { QuotaService } from '../tenants/quota.service.js';
import type { ClusterEntity, ClusterSettings } from './cluster.entity.js';
import type { PoolTotals } from './worker-pools.js';

export function checkSettings(s: ClusterSettings | undefined): void {
  if (s?.maxUnhealthy !== undefined && typeof s.maxUnhealthy === 'number') {
    if (!Number.isInteger(s.maxUnhealthy) || s.maxUnhealthy < 0) {
      throw DomainError.validation(
        'settings.maxUnhealthy',
        'must be a whole number of nodes or a percentage like "40%"',
      );
    }
  }
  if (s?.autoscale && s.autoscale.minWorkers > s.autoscale.maxWorkers) {
    throw DomainError.validation('settings.autoscale.minWorkers', 'must not exceed maxWorkers');
  }
}

/** Whether a cluster's nodes fit: a host that can run one, room in the pool, the tenant's quota. */
@Injectable()
export class ClusterCapacity {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly hostsRepo: HostsRepository,
    private readonly pools: StoragePoolsRepository,
    private readonly quotas: QuotaService,
  ) {}

  async checkNodeFits(vcpus: number, memoryMiB: number, field = 'nodeSpec'): Promise<void> {
    const hosts = (await this.hostsRepo.list()).filter((h) => !h.drained);
    if (hosts.length === 0)
      throw DomainError.unprocessable('no hypervisor host is registered; ask the operator to add one');
    const maxCpus = Math.max(...hosts.map((h) => h.cpus * this.config.cpuOvercommit));
    const maxMemory = Math.max(...hosts.map((h) => h.memoryMiB * this.config.memoryOvercommit));
    if (vcpus > maxCpus)
      throw DomainError.validation(
        `${field}.vcpus`,
        `no host can run a node with ${vcpus} vCPUs (largest: ${maxCpus})`,
      );
    if (memoryMiB > maxMemory)
      throw DomainError.validation(
        `${field}.memoryMiB`,
        `no host can run a node with ${memoryMiB} MiB (largest: ${maxMemory})`,
      );
  }

  /**
   * Disk the pool has promised: clusters' declared nodes and the backups it holds, plus what is
   * being checked (`what` names it in the refusal).
   */
  async checkPoolRoom(
    tx: Tx,
    poolId: string,
    extraGiB: number,
    poolName: string,
    capacityGiB: number,
    what = 'the nodes',
  ): Promise<void> {
    const rows: { reserved: string }[] = await tx.query(
      `SELECT (SELECT COALESCE(SUM(masters * disk_gib + worker_disk_gib), 0) FROM clusters
                WHERE storage_pool_id = $1 AND deleting_at IS NULL)
            + (SELECT COALESCE(SUM(capacity_gib), 0) FROM volumes WHERE pool_id = $1 AND owner_kind = 'backup')
              AS reserved`,
      [poolId],
    );
    const reserved = Number(rows[0].reserved);
    if (reserved + extraGiB > capacityGiB) {
      throw DomainError.unprocessable(
        `storage pool "${poolName}" has ${Math.max(0, capacityGiB - reserved)} GiB free; ${what} need ${extraGiB} GiB`,
        { field: 'storagePoolId', capacityGiB, reservedGiB: reserved, requestedGiB: extraGiB },
      );
    }
  }

  /**
   * Quota and storage room for a change of the cluster's declared size, from what it declares now
   * (`cluster`) to what it will declare (`next`: masters and the pools' totals). Only what grows
   * is checked: a change that adds CPUs and removes disk needs room for the CPUs alone.
   */
  async reserveChange(tx: Tx, cluster: ClusterEntity, next: { masters: number } & PoolTotals): Promise<void> {
    const now = declared(cluster.masters, cluster, cluster);
    const then = declared(next.masters, next, cluster);
    const grow = (a: number, b: number) => Math.max(0, b - a);
    const nodes = grow(now.nodes, then.nodes);
    const vcpus = grow(now.vcpus, then.vcpus);
    const memoryMiB = grow(now.memoryMiB, then.memoryMiB);
    const diskGiB = grow(now.diskGiB, then.diskGiB);
    if (nodes + vcpus + memoryMiB > 0)
      await this.quotas.reserve(tx, cluster.tenantId, { maxNodes: nodes, maxVcpus: vcpus, maxMemoryMiB: memoryMiB });
    if (diskGiB > 0) {
      const pool = await this.pools.lockForTenant(tx, cluster.tenantId, cluster.storagePoolId);
      if (pool) await this.checkPoolRoom(tx, pool.id, diskGiB, pool.name, pool.capacityGiB);
    }
  }
}

/** A cluster's declared size: its masters at the cluster's node size, its pools' totals. */
function declared(
  masters: number,
  pools: PoolTotals,
  spec: Pick<ClusterEntity, 'vcpus' | 'memoryMiB' | 'diskGiB'>,
): { nodes: number; vcpus: number; memoryMiB: number; diskGiB: number } {
  return {
    nodes: masters + pools.workers,
    vcpus: masters * spec.vcpus + pools.workerVcpus,
    memoryMiB: masters * spec.memoryMiB + pools.workerMemoryMiB,
    diskGiB: masters * spec.diskGiB + pools.workerDiskGiB,
  };
}
