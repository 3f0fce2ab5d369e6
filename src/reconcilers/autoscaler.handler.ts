import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { autoscaleDecision } from '../clusters/autoscale.js';
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
      const settings = cluster.settings.autoscale;
      if (!settings) continue;
      const workers = (await this.nodes.forCluster(cluster.id)).filter(
        (n) => n.role === 'worker' && n.phase === 'Ready' && !n.deleteRequestedAt && n.usage,
      );
      const decision = autoscaleDecision({
        settings,
        workers: cluster.workers,
        readyWorkerCpu: workers.map((n) => n.usage!.cpuPercent),
        running: cluster.phase === 'Running',
        lastChangeAt: cluster.autoscaledAt?.getTime() ?? null,
        now: Date.now(),
      });
      if (!decision) continue;
      if (await this.scaling.autoscaleTo(cluster.id, decision.workers, decision.reason)) {
        changed++;
        this.logger.info({ clusterId: cluster.id, workers: decision.workers }, decision.reason);
      }
    }
    return { clusters: clusters.length, changed };
  }
}
