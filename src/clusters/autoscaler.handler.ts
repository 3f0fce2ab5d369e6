import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_LOGGER } from '../common/tokens.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { autoscaleDecision } from './autoscale.js';
import { ClustersRepository } from './clusters.repository.js';
import { ClustersService } from './clusters.service.js';

/**
 * Runs every cluster's worker autoscaler (settings.autoscale) on the health-sweep schedule, from
 * the CPU use the sweeps sample (libvirt domain statistics). A change goes through the same
 * quota checks as a tenant's PATCH and is recorded as an `Autoscaled` event, whose time is also
 * the cool-down's start.
 */
@Injectable()
export class AutoscalerHandler {
  constructor(
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly service: ClustersService,
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
        lastChangeAt: (await this.clusters.lastEventAt(cluster.id, 'Autoscaled'))?.getTime() ?? null,
        now: Date.now(),
      });
      if (!decision) continue;
      if (await this.service.autoscaleTo(cluster.id, decision.workers, decision.reason)) {
        changed++;
        this.logger.info({ clusterId: cluster.id, workers: decision.workers }, decision.reason);
      }
    }
    return { clusters: clusters.length, changed };
  }
}
