import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../common/tokens.js';
import { untrustedText } from '../common/untrusted-text.js';
import type { AppConfig } from '../config/config.js';
import { EventsService } from '../events/events.service.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import type { HostBackend } from '../hypervisor/backends/index.js';
import type { NodeEntity } from '../nodes/node.entity.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { BundlesService } from './bundles.service.js';
import { ClusterSecretsStore } from './cluster-secrets.store.js';
import { controlPlaneClientFor } from './control-plane-client.js';

/** What the leave needs of the node's cluster. */
export interface ControlPlaneOf {
  id: string;
  tenantId: string;
  controlPlane: string;
  /** Its endpoint, through which the leave reaches the control plane (the platform has no route into VPCs). */
  floatingIpId: string | null;
}

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
    private readonly secrets: ClusterSecretsStore,
    private readonly nodes: NodesRepository,
    private readonly events: EventsService,
    private readonly floatingIps: FloatingIpsRepository,
  ) {}

  static hasLeft(node: NodeEntity): boolean {
    return node.conditions.some((c) => c.type === LEFT_CONDITION && c.status === 'False');
  }

  /** `hostKind`: the kind of host the node runs on, which says how its control plane is reached. */
  async leave(node: NodeEntity, cluster: ControlPlaneOf, hostKind: HostBackend['kind']): Promise<'done' | 'wait'> {
    const bundle = this.bundles.get(cluster.controlPlane);
    const method = bundle?.manifest.leave?.[node.role];
    if (!bundle || !method || ControlPlaneLeaver.hasLeft(node)) return 'done';
    const target = { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id };
    try {
      const result = await controlPlaneClientFor(hostKind).leave({
        method,
        role: node.role,
        nodeName: node.name,
        nodeAddress: node.address,
        port: bundle.manifest.endpoint.port,
        // The cluster's endpoint: its load balancer sends the call to a live master. No VPC
        // address is reachable from the platform's side.
        otherMasters: async () => {
          const fip = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
          if (!fip) throw new Error('the cluster has no floating IP, so its control plane cannot be reached');
          return [fip.address];
        },
        tls: async () => {
          const secrets = await this.secrets.get(cluster.id);
          return secrets && { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem };
        },
      });
      this.waits.delete(node.id);
      if (result) await this.markLeft(node, untrustedText(result.message, 500));
      return 'done';
    } catch (err) {
      const waited = Date.now() - (node.deleteRequestedAt ?? node.createdAt).getTime();
      // Built from what the tenant's control plane answered: one plain line, cut short.
      const message = untrustedText((err as Error).message, 500);
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
    await this.nodes.patchStatus(node, {
      conditions: [{ type: LEFT_CONDITION, status: 'False', reason: 'Left', message }],
    });
    await this.events.normal(
      { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
      'NodeLeft',
      message,
    );
  }
}
