import { Injectable } from '@nestjs/common';
import { JobQueue, type JobPayloads } from '../../jobs/job-types.js';
import { OnJob } from '../../jobs/on-job.decorator.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { TenantNetwork } from './tenant-network.service.js';

/**
 * The network's sweep, as the host sweep is for VMs: rows of VPCs, nodes, clusters and ranges
 * that no longer exist go (one transaction); a live node whose port is missing (removed by hand,
 * lost with a Northbound database restored from an old backup) gets a reconcile that puts it back,
 * and so does a cluster whose endpoint exists when it should not or the other way round.
 */
@Injectable()
export class NetworkCollector {
  constructor(
    private readonly network: TenantNetwork,
    private readonly nodes: NodesRepository,
    private readonly jobs: JobQueue,
  ) {}

  @OnJob('network.collect')
  async collect(_payload: JobPayloads['network.collect']): Promise<{ removed: number; repaired: number }> {
    const { removed, nodesWithoutPort, clustersToLookAt } = await this.network.collect();
    let repaired = 0;
    for (const nodeId of nodesWithoutPort) {
      const node = await this.nodes.findById(nodeId);
      if (!node?.hostId) continue;
      await this.jobs.enqueue('node.reconcile', { nodeId }, { hostId: node.hostId, resourceKey: nodeId });
      repaired++;
    }
    for (const clusterId of clustersToLookAt) {
      await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
      repaired++;
    }
    return { removed: removed.length, repaired };
  }
}
