import { Injectable } from '@nestjs/common';
import { Database } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { EventsService } from '../events/events.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { ClustersRepository } from './clusters.repository.js';
import { DEFAULT_POOL } from './worker-pools.js';
import { WorkerPoolsService } from './worker-pools.service.js';

/** Size changes that do not come from the tenant's API (the worker autoscaler). */
@Injectable()
export class ClusterScaling {
  constructor(
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly workerPools: WorkerPoolsService,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * The autoscaler's change of a pool's count: the same quota and room checks as a tenant's
   * change. The pool's `autoscaledAt` (and the cluster's) starts its cool-down. Returns false
   * (and records why) when the quota or the storage pool says no.
   */
  async autoscalePool(clusterId: string, poolName: string, count: number, reason: string): Promise<boolean> {
    let outcome: { ok: true; from: number } | { ok: false; why: string } | undefined;
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, clusterId);
      const pool = cluster?.workerPools.find((p) => p.name === poolName);
      if (!cluster || !pool || cluster.deletingAt || pool.count === count) return;
      const now = new Date();
      const pools = cluster.workerPools.map((p) =>
        p.name === poolName ? { ...p, count, autoscaledAt: now.toISOString() } : p,
      );
      try {
        await this.workerPools.declare(tx, cluster, { masters: cluster.masters, pools }, { autoscaledAt: now });
      } catch (err) {
        if (err instanceof DomainError) {
          outcome = { ok: false, why: err.message };
          return;
        }
        throw err;
      }
      await this.events.normal(
        { tenantId: cluster.tenantId, clusterId },
        'Autoscaled',
        `workers ${pool.count} → ${count}${poolName === DEFAULT_POOL ? '' : ` in pool ${poolName}`}: ${reason}`,
        tx,
      );
      outcome = { ok: true, from: pool.count };
    });
    if (!outcome) return false;
    const cluster = await this.clusters.findById(clusterId);
    if (!outcome.ok) {
      if (cluster)
        await this.events.warning(
          { tenantId: cluster.tenantId, clusterId },
          'AutoscaleBlocked',
          `cannot scale ${poolName === DEFAULT_POOL ? 'workers' : `pool ${poolName}`} to ${count} (${reason}): ${outcome.why}`,
        );
      return false;
    }
    await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    return true;
  }
}
