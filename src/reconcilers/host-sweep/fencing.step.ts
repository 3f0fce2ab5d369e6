import { Injectable } from '@nestjs/common';
import { EventsService } from '../../events/events.service.js';
import type { HostRuntime } from '../../hypervisor/host-runtime.js';
import { libvirtNames } from '../../hypervisor/xml/names.js';
import { JobQueue } from '../../jobs/job-types.js';
import type { NodeEntity } from '../../nodes/node.entity.js';

/**
 * Fencing, on every sweep of a reachable host (so first thing after it comes back): a node that
 * is being removed has no business running. Its VM is powered off at once (a replacement may
 * already run elsewhere: never two live copies) and its teardown is queued, which the jobs
 * queued while the host was away may not do any more.
 */
@Injectable()
export class FencingStep {
  constructor(
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  async run(hostId: string, runtime: HostRuntime, nodes: NodeEntity[]): Promise<void> {
    const backend = runtime.backend;
    if (!backend) return;
    for (const node of nodes.filter((n) => n.deleteRequestedAt)) {
      const domain = libvirtNames.domain(node.id);
      const lostWithHost = node.conditions.some((c) => c.type === 'NodeHealthy' && c.reason === 'HostUnreachable');
      if (lostWithHost && (await backend.domainState(domain)) === 'running') {
        runtime.expectStop(domain);
        await backend.destroyDomain(domain);
        await this.events.warning(
          { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
          'NodeFenced',
          `${node.name} was replaced while its host was away; its VM has been powered off`,
        );
      }
      await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId, resourceKey: node.id });
    }
  }
}
