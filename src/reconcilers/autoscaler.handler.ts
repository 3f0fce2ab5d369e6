import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { type AutoscaleSettings, autoscaleDecision } from '../clusters/autoscale.js';
import type { ClusterEntity } from '../clusters/cluster.entity.js';
import type { WorkerPool } from '../clusters/worker-pools.js';
import { ClusterScaling } from '../clusters/cluster-scaling.service.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { APP_LOGGER } from '../common/tokens.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import { NodesRepository } from '../nodes/nodes.repository.js';

/**
 * Runs every cluster's worker autoscaler (settings.autoscale) on the health-sweep schedule, from
 * the CPU use the sweeps sample (libvirt domain statistics). A change goes through the same
 * quota checks as a tenant's PATCH, is recorded as an `Autoscaled` event, and its time (the
 * cluster's `autoscaled_at`) starts the cool-down.
 */
@Injectable()
export class AutoscalerHandler {
  constructor(
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly scaling: ClusterScaling,
  ) {}

  @OnJob('clusters.autoscale')
  async run(): Promise<{ clusters: number; changed: number }> {
    let changed = 0;
    const clusters = await this.clusters.autoscaled();
    for (const cluster of clusters) {
      const nodes = await this.nodes.forCluster(cluster.id);
      for (const pool of cluster.workerPools) {
        const settings = autoscaleOf(cluster, pool);
        if (!settings) continue;
        const ready = nodes.filter(
          (n) => n.pool === pool.name && n.phase === 'Ready' && !n.deleteRequestedAt && n.usage,
        );
        const lastChange = pool.autoscaledAt ?? (cluster.workerPools.length === 1 ? cluster.autoscaledAt : null);
        const decision = autoscaleDecision({
          settings,
          workers: pool.count,
          readyWorkerCpu: ready.map((n) => n.usage!.cpuPercent),
          running: cluster.phase === 'Running',
          lastChangeAt: lastChange ? new Date(lastChange).getTime() : null,
          now: Date.now(),
        });
        if (!decision) continue;
        if (await this.scaling.autoscalePool(cluster.id, pool.name, decision.workers, decision.reason)) {
          changed++;
          this.logger.info({ clusterId: cluster.id, pool: pool.name, workers: decision.workers }, decision.reason);
        }
      }
    }
    return { clusters: clusters.length, changed };
  }
}

/**
 * A pool's autoscaling bounds: its own, or, for the one pool of a cluster declared with
 * `settings.autoscale` (before pools had their own), the cluster's.
 */
function autoscaleOf(cluster: ClusterEntity, pool: WorkerPool): AutoscaleSettings | undefined {
  if (pool.autoscale)
    return {
      minWorkers: pool.autoscale.minCount,
      maxWorkers: pool.autoscale.maxCount,
      targetCpuPercent: pool.autoscale.targetCpuPercent,
      cooldownSeconds: pool.autoscale.cooldownSeconds,
    };
  return cluster.workerPools.length === 1 ? cluster.settings.autoscale : undefined;
}
