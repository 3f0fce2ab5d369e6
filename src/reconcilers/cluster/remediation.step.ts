import { Injectable } from '@nestjs/common';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { type Condition, setCondition } from '../../common/conditions.js';
import { EventsService } from '../../events/events.service.js';
import { HEALTH_DEFAULTS, planRemediation } from '../../nodes/health.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';

/**
 * Marks unhealthy nodes for replacement within the cluster's limits (maxUnhealthy, a back-off
 * counted from the recorded remediations), and says why not in the RemediationAllowed condition.
 */
@Injectable()
export class RemediationStep {
  constructor(
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly events: EventsService,
  ) {}

  /** Returns the cluster's conditions with RemediationAllowed set, and whether nodes were marked. */
  async run(
    cluster: ClusterEntity,
    nodes: NodeEntity[],
    conditions: Condition[],
  ): Promise<{ conditions: Condition[]; replaced: boolean }> {
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    const since = new Date(Date.now() - HEALTH_DEFAULTS.remediationWindowSeconds * 1000);
    const decision = planRemediation({
      nodes: nodes.map((n) => ({
        id: n.id,
        role: n.role,
        unhealthy: n.unhealthySince !== null,
        replaceRequested: n.replaceRequestedAt !== null,
        deleting: n.deleteRequestedAt !== null,
      })),
      maxUnhealthy: cluster.settings.maxUnhealthy ?? HEALTH_DEFAULTS.maxUnhealthy,
      paused: cluster.paused,
      recentRemediations: nodes.some((n) => n.unhealthySince && !n.replaceRequestedAt)
        ? await this.clusters.remediationsSince(cluster.id, since)
        : 0,
      maxRemediationsPerWindow: HEALTH_DEFAULTS.maxRemediationsPerWindow,
    });
    const previous = conditions.find((c) => c.type === 'RemediationAllowed');
    const allowed = decision.kind === 'replace' || decision.kind === 'none';
    const reason =
      decision.kind === 'short-circuit' ? 'TooManyUnhealthy' : decision.kind === 'backoff' ? 'BackingOff' : 'Allowed';
    if (previous?.reason !== reason) {
      const message =
        decision.kind === 'short-circuit'
          ? `${decision.unhealthy} nodes unhealthy, more than the ${decision.allowed} allowed: likely a network or host problem, not replacing`
          : decision.kind === 'backoff'
            ? `${decision.recent} remediations in the last ${HEALTH_DEFAULTS.remediationWindowSeconds / 60} minutes: backing off`
            : cluster.paused
              ? 'remediation paused'
              : 'unhealthy nodes are replaced';
      conditions = setCondition(conditions, 'RemediationAllowed', allowed ? 'True' : 'False', reason, message);
      if (!allowed)
        await this.events.warning(
          target,
          reason === 'TooManyUnhealthy' ? 'RemediationShortCircuited' : 'RemediationBackoff',
          message,
        );
    }
    if (decision.kind !== 'replace') return { conditions, replaced: false };
    for (const id of decision.nodeIds) {
      const node = nodes.find((n) => n.id === id)!;
      await this.nodes.update(id, { replaceRequestedAt: new Date() });
      await this.clusters.recordRemediation(cluster.id, node);
      await this.events.warning(
        { ...target, nodeId: id },
        'RemediationStarted',
        `replacing unhealthy ${node.role} ${node.name}`,
      );
    }
    return { conditions, replaced: true };
  }
}
