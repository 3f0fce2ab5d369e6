import { Injectable } from '@nestjs/common';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import { EventsService } from '../../events/events.service.js';
import { FloatingIpsRepository } from '../../networks/floating-ips.repository.js';
import type { NodeEntity } from '../../nodes/node.entity.js';

/**
 * The floating IP reaches one master at a time: the current holder while it is ready, else the
 * first ready master.
 */
@Injectable()
export class FloatingIpHolderStep {
  constructor(
    private readonly floatingIps: FloatingIpsRepository,
    private readonly events: EventsService,
  ) {}

  /** Returns the nodes whose network entries must change. */
  async run(cluster: ClusterEntity, nodes: NodeEntity[]): Promise<string[]> {
    const fip = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    if (!fip) return [];
    const usable = (n: NodeEntity) =>
      n.role === 'master' && n.phase === 'Ready' && !n.deleteRequestedAt && !n.replaceRequestedAt;
    // The holder keeps the address through a passing NotReady (an etcd election, a slow probe):
    // a move costs the tenant up to one DHCP lease (2 minutes) of an unreachable endpoint, so it
    // moves only when the holder is going away or has been unhealthy past its timeout.
    const keeps = (n: NodeEntity) =>
      n.role === 'master' &&
      (n.phase === 'Ready' || n.phase === 'NotReady') &&
      !n.deleteRequestedAt &&
      !n.replaceRequestedAt &&
      n.unhealthySince === null;
    const holder = nodes.find((n) => n.id === fip.holderNodeId);
    if (holder && keeps(holder)) return [];
    const next = nodes.filter(usable).sort((a, b) => a.ordinal - b.ordinal)[0];
    if (!next && !holder) return [];
    await this.floatingIps.setHolder(fip.id, next?.id ?? null);
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: cluster.id, nodeId: next?.id ?? null },
      'FloatingIpMoved',
      next
        ? `floating IP ${fip.address} moves to ${next.name}`
        : `floating IP ${fip.address} has no ready master to go to`,
    );
    return [next?.id, holder?.id].filter((x): x is string => x !== undefined);
  }
}
