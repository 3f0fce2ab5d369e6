import { Injectable } from '@nestjs/common';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import { BundlesService } from '../../control-plane/bundles.service.js';
import { EventsService } from '../../events/events.service.js';
import type { FloatingIpEntity, VpcEntity } from '../../networks/network.entities.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { TenantNetwork } from '../network/tenant-network.service.js';

/**
 * The cluster's endpoint: its floating IP, on the bundle's endpoint port only, load-balanced by
 * OVN over every Ready master, whose health checks take a dead master out of rotation within
 * seconds without the platform moving anything. A cluster without a floating IP has none.
 */
@Injectable()
export class EndpointStep {
  /** Clusters told that their endpoint cannot be built, so that it is said once. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly bundles: BundlesService,
    private readonly events: EventsService,
    private readonly network: TenantNetwork,
  ) {}

  /** `records`: the cluster's VPC and floating IP as the pass read them. */
  async run(
    cluster: ClusterEntity,
    nodes: NodeEntity[],
    records: { vpc: VpcEntity | null; floatingIp: FloatingIpEntity | null },
  ): Promise<void> {
    const fip = records.floatingIp;
    if (!fip) {
      await this.network.removeEndpoint(cluster.id);
      return;
    }
    // Nothing to put behind it before the first node has its port (the VPC is made with it).
    if (!nodes.some((n) => n.role === 'master' && n.address)) return;
    const { vpc } = records;
    const bundle = this.bundles.get(cluster.controlPlane);
    if (!vpc || !bundle) return;
    const masters = nodes.filter(
      (n) => n.role === 'master' && n.phase === 'Ready' && !n.deleteRequestedAt && n.address !== null,
    );
    const built = await this.network.ensureEndpoint({
      clusterId: cluster.id,
      tenantId: cluster.tenantId,
      vpc,
      floatingIp: { address: fip.address, rangeId: fip.rangeId },
      port: bundle.manifest.endpoint.port,
      masters,
    });
    if (built) {
      this.warned.delete(cluster.id);
    } else if (!this.warned.has(cluster.id)) {
      this.warned.add(cluster.id);
      await this.events.warning(
        { tenantId: cluster.tenantId, clusterId: cluster.id },
        'EndpointUnavailable',
        `floating IP ${fip.address} cannot reach the cluster: the VPC's router has no address on its provider network (ask the operator for a range there)`,
      );
    }
  }

  async remove(clusterId: string): Promise<void> {
    this.warned.delete(clusterId);
    await this.network.removeEndpoint(clusterId);
  }
}
