import { type Cidr } from '../../common/cidr.js';
import {
  KIND_KEY,
  type NetworkScope,
  OwnerKey,
  ownerIds,
  RowKind,
  scopeQuery,
  vpcDependency,
} from './ovn-desired-rows.js';
import {
  type ClusterEndpointSpec,
  DEFAULT_HEALTH_CHECK,
  healthCheckSourceAddress,
  type NodePortSpec,
} from './ovn-model-specs.js';
import { endpointRowNames, nodePortName } from './ovn-names.js';
import {
  checkCidr,
  checkDistinct,
  checkHostOf,
  checkInteger,
  checkIpv4,
  checkMac,
  checkUuid,
  invalid,
} from './ovn-spec-checks.js';

/** The rows of a node's port and of a cluster's endpoint, both hung on their VPC's rows. */

/** A node's NIC: its address, port security on that MAC and address, and OVN's DHCP. */
export function nodePortScope(spec: NodePortSpec): NetworkScope {
  const nodeId = checkUuid('nodeId', spec.nodeId);
  const vpcId = checkUuid('vpcId', spec.vpcId);
  const tenantId = checkUuid('tenantId', spec.tenantId);
  const clusterId = checkUuid('clusterId', spec.clusterId);
  const mac = checkMac('mac', spec.mac);
  checkIpv4('ip', spec.ip);
  const address = `${mac} ${spec.ip}`;
  return {
    description: `port of node ${nodeId}`,
    queries: [scopeQuery('Logical_Switch_Port', { [OwnerKey.node]: nodeId, [KIND_KEY]: RowKind.NodePort })],
    desired: [
      {
        table: 'Logical_Switch_Port',
        columns: {
          name: nodePortName(nodeId),
          type: '',
          addresses: [address],
          port_security: [address],
          enabled: null,
          dhcpv4_options: { ref: 'vpc-dhcp' },
          options: {},
          external_ids: ownerIds({ node: nodeId, vpc: vpcId, tenant: tenantId, cluster: clusterId }, RowKind.NodePort),
        },
        parents: [{ table: 'Logical_Switch', column: 'ports', parent: { external: 'vpc-switch' } }],
      },
    ],
    externals: [
      vpcDependency('vpc-switch', 'Logical_Switch', RowKind.VpcSwitch, vpcId),
      vpcDependency('vpc-dhcp', 'DHCP_Options', RowKind.VpcDhcp, vpcId),
    ],
  };
}

export function nodePortRemovalScope(nodeId: string): NetworkScope {
  checkUuid('nodeId', nodeId);
  return {
    description: `port of node ${nodeId}`,
    queries: [scopeQuery('Logical_Switch_Port', { [OwnerKey.node]: nodeId, [KIND_KEY]: RowKind.NodePort })],
    desired: [],
    externals: [],
  };
}

/**
 * A cluster's endpoint: an OVN load balancer with the floating IP and the endpoint port as its
 * only VIP, over the Ready masters, with OVN's health checks. It sits on the VPC router (traffic
 * from the provider network) and on the VPC switch (nodes of the VPC reaching the endpoint,
 * including a master reaching itself through it).
 */
export function endpointScope(spec: ClusterEndpointSpec): NetworkScope {
  const clusterId = checkUuid('clusterId', spec.clusterId);
  const vpcId = checkUuid('vpcId', spec.vpcId);
  const tenantId = checkUuid('tenantId', spec.tenantId);
  const cidr: Cidr = checkCidr('vpcCidr', spec.vpcCidr);
  checkIpv4('floatingIp', spec.floatingIp);
  const port = checkInteger('port', spec.port, 1, 65_535);
  const hc = spec.healthCheck ?? DEFAULT_HEALTH_CHECK;
  checkInteger('healthCheck.intervalSeconds', hc.intervalSeconds, 1, 3600);
  checkInteger('healthCheck.timeoutSeconds', hc.timeoutSeconds, 1, 3600);
  checkInteger('healthCheck.successCount', hc.successCount, 1, 100);
  checkInteger('healthCheck.failureCount', hc.failureCount, 1, 100);
  const source = healthCheckSourceAddress(spec.vpcCidr);
  spec.backends.forEach((b, i) => {
    checkUuid(`backends[${i}].nodeId`, b.nodeId);
    checkHostOf(`backends[${i}].ip`, b.ip, cidr);
    if (b.ip === source) throw invalid(`backends[${i}].ip ${b.ip} is the VPC's health-check source address`);
  });
  checkDistinct(
    'backends',
    spec.backends.map((b) => b.ip),
  );

  const ids = { cluster: clusterId, vpc: vpcId, tenant: tenantId };
  const vip = `${spec.floatingIp}:${port}`;
  // Sorted, so that the same set of masters in another order is not a change.
  const backends = [...spec.backends].sort((a, b) => a.ip.localeCompare(b.ip));
  const lbName = endpointRowNames(clusterId).loadBalancer;
  return {
    description: `endpoint of cluster ${clusterId}`,
    queries: [
      scopeQuery('Load_Balancer', { [OwnerKey.cluster]: clusterId, [KIND_KEY]: RowKind.EndpointLoadBalancer }),
      scopeQuery('Load_Balancer_Health_Check', {
        [OwnerKey.cluster]: clusterId,
        [KIND_KEY]: RowKind.EndpointHealthCheck,
      }),
    ],
    desired: [
      {
        table: 'Load_Balancer',
        columns: {
          name: lbName,
          vips: { [vip]: backends.map((b) => `${b.ip}:${port}`).join(',') },
          protocol: 'tcp',
          ip_port_mappings: Object.fromEntries(backends.map((b) => [b.ip, `${nodePortName(b.nodeId)}:${source}`])),
          selection_fields: [],
          // With no live backend a client gets a reset at once rather than a timeout.
          options: { reject: 'true' },
          external_ids: ownerIds(ids, RowKind.EndpointLoadBalancer),
        },
        parents: [
          { table: 'Logical_Router', column: 'load_balancer', parent: { external: 'vpc-router' } },
          { table: 'Logical_Switch', column: 'load_balancer', parent: { external: 'vpc-switch' } },
        ],
      },
      {
        table: 'Load_Balancer_Health_Check',
        columns: {
          vip,
          options: {
            interval: String(hc.intervalSeconds),
            timeout: String(hc.timeoutSeconds),
            success_count: String(hc.successCount),
            failure_count: String(hc.failureCount),
          },
          external_ids: ownerIds(ids, RowKind.EndpointHealthCheck),
        },
        parents: [{ table: 'Load_Balancer', column: 'health_check', parent: { row: `Load_Balancer/name=${lbName}` } }],
      },
    ],
    externals: [
      vpcDependency('vpc-router', 'Logical_Router', RowKind.VpcRouter, vpcId),
      vpcDependency('vpc-switch', 'Logical_Switch', RowKind.VpcSwitch, vpcId),
    ],
  };
}

export function endpointRemovalScope(clusterId: string): NetworkScope {
  checkUuid('clusterId', clusterId);
  return {
    description: `endpoint of cluster ${clusterId}`,
    queries: [
      scopeQuery('Load_Balancer', { [OwnerKey.cluster]: clusterId, [KIND_KEY]: RowKind.EndpointLoadBalancer }),
      scopeQuery('Load_Balancer_Health_Check', {
        [OwnerKey.cluster]: clusterId,
        [KIND_KEY]: RowKind.EndpointHealthCheck,
      }),
    ],
    desired: [],
    externals: [],
  };
}
