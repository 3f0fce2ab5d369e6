import { Injectable } from '@nestjs/common';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { EventsService } from '../../events/events.service.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { HEALTH_DEFAULTS } from '../../nodes/health.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';

/**
 * The host does not answer. Once it has been gone longer than a cluster's unhealthy timeout,
 * that cluster's nodes on it count as unhealthy (reason HostUnreachable), so remediation places
 * replacements on other hosts.
 */
@Injectable()
export class UnreachableHostStep {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly nodes: NodesRepository,
    private readonly clusters: ClustersRepository,
    private readonly events: EventsService,
  ) {}

  /** Returns how many of the host's nodes are unhealthy, and the clusters whose plan this changed. */
  async run(hostId: string): Promise<{ unhealthy: number; touchedClusters: Set<string> }> {
    const touchedClusters = new Set<string>();
    const host = await this.hosts.findById(hostId);
    if (!host || host.state !== 'Unreachable') return { unhealthy: 0, touchedClusters };
    const goneSince = (host.lastSeenAt ?? host.createdAt).getTime();
    const nodes = (await this.nodes.forHost(hostId)).filter((n) => !n.deleteRequestedAt);
    const settingsByCluster = await this.clusters.settingsOf([...new Set(nodes.map((n) => n.clusterId))]);
    const now = Date.now();
    let unhealthy = 0;
    for (const node of nodes) {
      const timeout =
        settingsByCluster.get(node.clusterId)?.unhealthyTimeoutSeconds ?? HEALTH_DEFAULTS.unhealthyTimeoutSeconds;
      if (node.unhealthySince) {
        unhealthy++;
        continue;
      }
      if (now - goneSince <= timeout * 1000) continue;
      unhealthy++;
      const message = `host ${host.name} unreachable since ${new Date(goneSince).toISOString()}`;
      const written = await this.nodes.patchStatus(node, (current) =>
        current.unhealthySince
          ? null
          : {
              unhealthySince: new Date(now),
              failingSince: current.failingSince ?? new Date(goneSince),
              conditions: [
                { type: 'NodeHealthy', status: 'False', reason: 'HostUnreachable', message },
                { type: 'Ready', status: 'False', reason: 'HostUnreachable', message },
              ],
              ...(current.phase === 'Ready' ? { phase: 'NotReady' as const } : {}),
            },
      );
      if (!written) continue;
      await this.events.warning(
        { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
        'NodeUnhealthy',
        `${node.name} is unhealthy: ${message}`,
      );
      touchedClusters.add(node.clusterId);
    }
    return { unhealthy, touchedClusters };
  }
}
