import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../../common/tokens.js';
import type { AppConfig } from '../../../config/config.js';
import { FloatingIpsRepository } from '../../../networks/floating-ips.repository.js';
import { VpcsRepository } from '../../../networks/vpcs.repository.js';
import { TenantNetwork } from '../../network/tenant-network.service.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

/**
 * The node's one NIC: a port of its VPC's OVN switch (with its address, MAC and port security,
 * DHCP from OVN), plugged into the host's integration bridge by its port name. The VPC's switch,
 * router and gateway are ensured first; they span every host, so nothing here is per host.
 */
@Injectable()
export class NetworkPhase implements NodePhaseStep {
  readonly name = 'network';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly vpcs: VpcsRepository,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly network: TenantNetwork,
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const { node } = scope;
    const cluster = scope.liveCluster;
    const vpc = scope.vpc ?? (await this.vpcs.findById(cluster.vpcId));
    if (!vpc) throw new Error(`VPC ${cluster.vpcId} of cluster ${cluster.id} is missing`);
    scope.vpc = vpc;
    // The router's provider address is taken on the provider network of the cluster's floating IP.
    if (scope.floatingIp === undefined)
      scope.floatingIp = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    const fip = scope.floatingIp;
    const interfaceId = await this.network.ensurePort(node, vpc, fip?.rangeId);
    scope.domainParts.nics.push({
      bridge: this.config.ovn.integrationBridge,
      mac: node.mac,
      openvswitch: { interfaceId },
      mtu: this.config.ovn.mtu,
      // The userspace datapath does not complete checksums a guest leaves to the NIC: TCP
      // through a load balancer or a tunnel breaks without this.
      checksumOffload: false,
    });
    return CONTINUE;
  }
}
