import { Injectable } from '@nestjs/common';
import { EventsService } from '../../events/events.service.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { JobQueue } from '../../jobs/job-types.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';

/** A drained host loses its nodes one at a time: each is replaced elsewhere, then removed. */
@Injectable()
export class DrainStep {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly nodes: NodesRepository,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  async run(hostId: string, nodes: NodeEntity[]): Promise<void> {
    const host = await this.hosts.findById(hostId);
    if (!host?.drained) return;
    const live = nodes.filter((n) => !n.deleteRequestedAt);
    if (live.some((n) => n.replaceRequestedAt)) return;
    const next = live[0];
    if (!next) return;
    await this.nodes.update(next.id, { replaceRequestedAt: new Date() });
    await this.events.normal(
      { tenantId: next.tenantId, clusterId: next.clusterId, nodeId: next.id },
      'DrainMove',
      `${next.name} moves off drained host ${host.name}`,
    );
    await this.jobs.enqueue('cluster.reconcile', { clusterId: next.clusterId }, { resourceKey: next.clusterId });
  }
}
