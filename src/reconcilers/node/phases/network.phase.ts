import { Injectable } from '@nestjs/common';
import { libvirtNames, macFor } from '../../../hypervisor/xml/names.js';
import { parseCidr } from '../../../common/cidr.js';
import { FloatingIpsRepository } from '../../../networks/floating-ips.repository.js';
import { VpcsRepository } from '../../../networks/vpcs.repository.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

/**
 * The node's NICs: one on its VPC's network with a static DHCP entry for its address, and for
 * masters one on the provider network of their floating IP's range, where the master holding
 * the floating IP gets the entry that hands it that address.
 */
@Injectable()
export class NetworkPhase implements NodePhaseStep {
  readonly name = 'network';

  constructor(
    private readonly vpcs: VpcsRepository,
    private readonly floatingIps: FloatingIpsRepository,
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const { node, backend } = scope;
    const cluster = scope.liveCluster;
    const vpc = await this.vpcs.findById(cluster.vpcId);
    if (!vpc) throw new Error(`VPC ${cluster.vpcId} of cluster ${cluster.id} is missing`);
    scope.vpc = vpc;
    const cidr = parseCidr(vpc.cidr);
    if (!cidr.ok) throw new Error(`VPC ${vpc.id} has an invalid CIDR`);
    const network = libvirtNames.vpcNetwork(vpc.id);
    await backend.ensureNetwork({
      name: network,
      bridge: libvirtNames.vpcBridge(vpc.id),
      gateway: vpc.gateway,
      prefix: cidr.cidr.prefix,
      hosts: [],
      ownerNote: `kaas VPC ${vpc.id} of tenant ${vpc.tenantId}`,
    });
    if (!node.address) throw new Error(`node ${node.id} has no address`);
    await backend.setDhcpHost(network, { mac: node.mac, ip: node.address, name: node.name });
    scope.domainParts.nics.push({ network, mac: node.mac });
    if (node.role === 'master') await this.ensureProviderNic(scope);
    return CONTINUE;
  }

  private async ensureProviderNic(scope: NodeScope): Promise<void> {
    const { node, backend } = scope;
    const cluster = scope.liveCluster;
    const fip = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    if (!fip) return;
    const range = await this.floatingIps.findRangeById(fip.rangeId);
    if (!range) return;
    const providerCidr = parseCidr(range.providerCidr);
    if (!providerCidr.ok) throw new Error(`range ${range.id} has an invalid provider CIDR`);
    const network = libvirtNames.providerNetwork(range.id);
    await backend.ensureNetwork({
      name: network,
      bridge: libvirtNames.providerBridge(range.id),
      gateway: range.gateway,
      prefix: providerCidr.cidr.prefix,
      hosts: [],
      ownerNote: `kaas floating-IP range ${range.id}`,
    });
    const mac = macFor(node.id, 'provider');
    if (fip.holderNodeId === node.id) {
      const { moved } = await backend.pointDhcpAddress(network, fip.address, mac);
      if (moved) scope.event('normal', 'FloatingIpAssociated', `floating IP ${fip.address} now reaches ${node.name}`);
    } else {
      await backend.removeDhcpHost(network, { mac, ip: fip.address });
    }
    scope.domainParts.nics.push({ network, mac });
  }
}
