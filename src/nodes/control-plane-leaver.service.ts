import { Inject, Injectable } from '@nestjs/common';
import { BundlesService } from '../clusters/bundles.service.js';
import type { ClusterEntity } from '../clusters/cluster.entity.js';
import type { ClusterSecrets } from '../clusters/cluster-pki.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { EventsService } from '../clusters/events.service.js';
import { setCondition } from '../common/conditions.js';
import { decryptSecret } from '../common/secrets.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import { leaveControlPlane } from './control-plane-leave.js';
import type { NodeEntity } from './node.entity.js';
import { NodesRepository } from './nodes.repository.js';

/** The node condition that records that a node has left its cluster's control plane. */
export const LEFT_CONDITION = 'ControlPlaneMember';

/**
 * Before a node of a living cluster is destroyed, it leaves the control plane the way its
 * bundle says (a master's etcd member is removed through another member; a k3s node is drained
 * and deleted). Needs only the cluster's other masters, not the node's host, so it also runs for
 * a node whose host is unreachable. Answers 'wait' when it cannot happen yet (no other master
 * answers, etcd refuses for quorum, a disruption budget blocks); after KAAS_LEAVE_TIMEOUT_SECONDS
 * the node goes anyway, with a warning event. Once done, the node carries the condition
 * ControlPlaneMember=False, so it is not done twice.
 */
@Injectable()
export class ControlPlaneLeaver {
  /** The last reason each leaving node had to wait, so a repeated reason is not a new event. */
  private readonly waits = new Map<string, string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly bundles: BundlesService,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly events: EventsService,
  ) {}

  static hasLeft(node: NodeEntity): boolean {
    return node.conditions.some((c) => c.type === LEFT_CONDITION && c.status === 'False');
  }

  async leave(node: NodeEntity, cluster: ClusterEntity, simulated: boolean): Promise<'done' | 'wait'> {
    const bundle = this.bundles.get(cluster.controlPlane);
    const method = bundle?.manifest.leave?.[node.role];
    if (!bundle || !method || ControlPlaneLeaver.hasLeft(node)) return 'done';
    const target = { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id };
    if (simulated) {
      // Simulated guests run no control plane: the step is recorded so its order is visible.
      await this.markLeft(node, `${node.name} left the control plane (${method}, simulated)`);
      return 'done';
    }
    const siblings = await this.nodes.forCluster(cluster.id);
    const others = siblings
      .filter((n) => n.role === 'master' && n.id !== node.id && n.address && !n.deleteRequestedAt)
      .sort((a, b) => Number(b.phase === 'Ready') - Number(a.phase === 'Ready'))
      .map((n) => n.address!);
    const sealed = await this.clusters.secrets(cluster.id);
    if (others.length === 0 || !sealed) return 'done';
    const secrets = JSON.parse(decryptSecret(this.config.secretKey, sealed.sealed, cluster.id)) as ClusterSecrets;
    try {
      const result = await leaveControlPlane({
        method,
        role: node.role,
        nodeName: node.name,
        nodeAddress: node.address,
        otherMasters: others,
        port: bundle.manifest.endpoint.port,
        tls: { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem },
      });
      this.waits.delete(node.id);
      await this.markLeft(node, result.message);
      return 'done';
    } catch (err) {
      const waited = Date.now() - (node.deleteRequestedAt ?? node.createdAt).getTime();
      const message = (err as Error).message;
      if (waited >= this.config.leaveTimeoutSeconds * 1000) {
        this.waits.delete(node.id);
        await this.events.warning(
          target,
          'NodeLeaveSkipped',
          `${node.name} could not leave the control plane within ${this.config.leaveTimeoutSeconds} s (${message}); destroying its VM anyway`,
        );
        return 'done';
      }
      if (this.waits.get(node.id) !== message) {
        this.waits.set(node.id, message);
        await this.events.warning(
          target,
          'NodeLeaveWaiting',
          `${node.name} cannot leave the control plane yet: ${message}`,
        );
      }
      return 'wait';
    }
  }

  private async markLeft(node: NodeEntity, message: string): Promise<void> {
    const conditions = setCondition(node.conditions, LEFT_CONDITION, 'False', 'Left', message);
    await this.nodes.update(node.id, { conditions });
    node.conditions = conditions;
    await this.events.normal(
      { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
      'NodeLeft',
      message,
    );
  }
}
