import { randomUUID } from 'node:crypto';
import type { ClusterEndpointSpec, NodePortSpec, ProviderNetworkSpec, VpcNetworkSpec } from '../ovn-model.js';

/** Fixed ids, so that golden files stay put. */
export const IDS = {
  tenant: '11111111-1111-4111-8111-111111111111',
  range: '22222222-2222-4222-8222-222222222222',
  node: '33333333-3333-4333-8333-333333333333',
  vpc: '44444444-4444-4444-8444-444444444444',
  cluster: '55555555-5555-4555-8555-555555555555',
  node2: '66666666-6666-4666-8666-666666666666',
} as const;

export interface NetworkSpecSet {
  provider: ProviderNetworkSpec;
  vpc: VpcNetworkSpec;
  port: NodePortSpec;
  port2: NodePortSpec;
  endpoint: ClusterEndpointSpec;
}

/** One tenant's VPC with a gateway on one provider network, two masters and their endpoint. */
export function networkSpecs(ids: Record<keyof typeof IDS, string> = IDS): NetworkSpecSet {
  const vpc: VpcNetworkSpec = {
    vpcId: ids.vpc,
    tenantId: ids.tenant,
    cidr: '10.0.0.0/24',
    mtu: 1442,
    dns: [],
    egress: true,
    gateway: {
      rangeId: ids.range,
      mac: '02:00:00:fa:00:01',
      networks: ['10.250.0.10/24'],
      chassis: [
        { name: 'host-1', priority: 20 },
        { name: 'host-2', priority: 10 },
      ],
      nexthop: '10.250.0.1',
    },
  };
  const port = (nodeId: string, n: number): NodePortSpec => ({
    nodeId,
    vpcId: ids.vpc,
    tenantId: ids.tenant,
    clusterId: ids.cluster,
    mac: `02:00:00:0a:00:${n.toString(16).padStart(2, '0')}`,
    ip: `10.0.0.${n}`,
  });
  return {
    provider: { rangeId: ids.range, cidr: '10.250.0.0/24', physnet: 'physnet' },
    vpc,
    port: port(ids.node, 11),
    port2: port(ids.node2, 12),
    endpoint: {
      clusterId: ids.cluster,
      vpcId: ids.vpc,
      tenantId: ids.tenant,
      vpcCidr: '10.0.0.0/24',
      floatingIp: '10.250.0.20',
      port: 6443,
      backends: [
        { nodeId: ids.node, ip: '10.0.0.11' },
        { nodeId: ids.node2, ip: '10.0.0.12' },
      ],
    },
  };
}

/** The same shape with fresh ids, for tests that share one database. */
export function freshNetworkSpecs(): NetworkSpecSet {
  return networkSpecs({
    tenant: randomUUID(),
    range: randomUUID(),
    node: randomUUID(),
    vpc: randomUUID(),
    cluster: randomUUID(),
    node2: randomUUID(),
  });
}

export const SPECS = networkSpecs();
