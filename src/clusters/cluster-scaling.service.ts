import { Injectable } from '@nestjs/common';
import { Database } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { EventsService } from '../events/events.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { ClusterCapacity } from './cluster-capacity.js';
import { ClustersRepository } from './clusters.repository.js';

/** Size changes that do not come from the tenant's API (the worker autoscaler). */
@Injectable()
export class ClusterScaling {
  constructor(
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly capacity: ClusterCapacity,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * The autoscaler's change of the declared worker count: the same quota and room checks as a
   * tenant's PATCH. Returns false (and records why) when the quota or the pool says no.
   */
  async autoscaleTo(clusterId: string, workers: number, reason: string): Promise<boolean> {
    let outcome: { ok: true; from: number } | { ok: false; why: string } | undefined;
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, clusterId);
      if (!cluster || cluster.deletingAt || cluster.workers === workers) return;
      try {
        await this.capacity.reserveGrowth(tx, cluster, workers - cluster.workers);
      } catch (err) {
        if (err instanceof DomainError) {
          outcome = { ok: false, why: err.message };
          return;
        }
        throw err;
      }
      await this.clusters.update(
        clusterId,
        { workers, generation: cluster.generation + 1, autoscaledAt: new Date() },
        tx,
      );
      await this.events.normal(
        { tenantId: cluster.tenantId, clusterId },
        'Autoscaled',
        `workers ${cluster.workers} → ${workers}: ${reason}`,
        tx,
      );
      outcome = { ok: true, from: cluster.workers };
    });
    if (!outcome) return false;
    const cluster = await this.clusters.findById(clusterId);
    if (!outcome.ok) {
      if (cluster)
        await this.events.warning(
          { tenantId: cluster.tenantId, clusterId },
          'AutoscaleBlocked',
          `cannot scale workers to ${workers} (${reason}): ${outcome.why}`,
        );
      return false;
    }
    await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    return true;
  }
}
