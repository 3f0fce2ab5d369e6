import { formatCidr, formatIpv4 } from '../../common/cidr.js';
import {
  type DesiredRow,
  type ExternalRow,
  KIND_KEY,
  MODEL_TABLES,
  type NetworkScope,
  OwnerKey,
  ownerIds,
  RowKind,
  scopeQuery,
} from './ovn-desired-rows.js';
import { DEFAULT_LEASE_TIME_SECONDS, type ProviderNetworkSpec, type VpcNetworkSpec } from './ovn-model-specs.js';
import { derivedMac, providerRowNames, vpcRowNames } from './ovn-names.js';
import type { NetworkTableName } from './ovn-network-tables.js';
import {
  checkCidr,
  checkDistinct,
  checkInteger,
  checkInterfaceAddress,
  checkIpv4,
  checkMac,
  checkPlainName,
  checkUuid,
  invalid,
} from './ovn-spec-checks.js';

/** The rows of a VPC (switch, DHCP, router, gateway, SNAT) and of a provider network. */

const VPC_KINDS: [NetworkTableName, RowKind][] = [
  ['Logical_Switch', RowKind.VpcSwitch],
  ['DHCP_Options', RowKind.VpcDhcp],
  ['Logical_Router', RowKind.VpcRouter],
  ['Logical_Router_Port', RowKind.VpcRouterPort],
  ['Logical_Switch_Port', RowKind.VpcSwitchRouterPort],
  ['Logical_Router_Port', RowKind.VpcGatewayPort],
  ['Logical_Switch_Port', RowKind.VpcProviderRouterPort],
  ['Gateway_Chassis', RowKind.VpcGatewayChassis],
  ['NAT', RowKind.VpcSnat],
  ['Logical_Router_Static_Route', RowKind.VpcDefaultRoute],
];

function providerExternal(rangeId: string): ExternalRow {
  return {
    id: 'provider-switch',
    table: 'Logical_Switch',
    owner: { [OwnerKey.range]: rangeId, [KIND_KEY]: RowKind.ProviderSwitch },
    missing: `the provider network of range ${rangeId} is not in the Northbound database: ensureProvider first`,
  };
}

/** One switch, its DHCP options, a router into it and, with a gateway, out to a provider network. */
export function vpcScope(spec: VpcNetworkSpec): NetworkScope {
  const vpcId = checkUuid('vpcId', spec.vpcId);
  const tenantId = checkUuid('tenantId', spec.tenantId);
  const cidr = checkCidr('cidr', spec.cidr);
  const mtu = checkInteger('mtu', spec.mtu, 576, 9000);
  const lease = checkInteger('leaseTimeSeconds', spec.leaseTimeSeconds ?? DEFAULT_LEASE_TIME_SECONDS, 60, 86_400 * 30);
  spec.dns.forEach((d, i) => checkIpv4(`dns[${i}]`, d));
  if (spec.egress && !spec.gateway) throw invalid(`VPC ${vpcId}: egress needs a gateway on a provider network`);

  const names = vpcRowNames(vpcId);
  const ids = { vpc: vpcId, tenant: tenantId };
  const gateway = formatIpv4(cidr.network + 1);
  const routerMac = derivedMac(`vpc-router-port:${vpcId}`);
  const dhcpOptions: Record<string, string> = {
    lease_time: String(lease),
    router: gateway,
    server_id: gateway,
    server_mac: routerMac,
    mtu: String(mtu),
  };
  if (spec.dns.length > 0) dhcpOptions['dns_server'] = `{${spec.dns.join(', ')}}`;

  const desired: DesiredRow[] = [
    {
      table: 'Logical_Switch',
      columns: { name: names.switch, other_config: {}, external_ids: ownerIds(ids, RowKind.VpcSwitch) },
      parents: [],
    },
    {
      table: 'DHCP_Options',
      columns: { cidr: formatCidr(cidr), options: dhcpOptions, external_ids: ownerIds(ids, RowKind.VpcDhcp) },
      parents: [],
    },
    {
      table: 'Logical_Router',
      columns: {
        name: names.router,
        enabled: null,
        options: {},
        external_ids: ownerIds(ids, RowKind.VpcRouter),
      },
      parents: [],
    },
    routerPort(
      names.routerPort,
      routerMac,
      [`${gateway}/${cidr.prefix}`],
      names.router,
      ownerIds(ids, RowKind.VpcRouterPort),
    ),
    {
      table: 'Logical_Switch_Port',
      columns: {
        ...routerPeer(names.switchRouterPort, names.routerPort),
        external_ids: ownerIds(ids, RowKind.VpcSwitchRouterPort),
      },
      parents: [{ table: 'Logical_Switch', column: 'ports', parent: { row: `Logical_Switch/name=${names.switch}` } }],
    },
  ];
  const externals: ExternalRow[] = [];

  if (spec.gateway) {
    const g = spec.gateway;
    const rangeId = checkUuid('gateway.rangeId', g.rangeId);
    checkMac('gateway.mac', g.mac);
    if (g.networks.length === 0) throw invalid(`VPC ${vpcId}: the gateway needs a provider address`);
    const addresses = g.networks.map((n, i) => checkInterfaceAddress(`gateway.networks[${i}]`, n));
    if (g.chassis.length === 0) throw invalid(`VPC ${vpcId}: the gateway needs at least one chassis`);
    g.chassis.forEach((c, i) => {
      checkPlainName(`gateway.chassis[${i}].name`, c.name);
      checkInteger(`gateway.chassis[${i}].priority`, c.priority, 0, 32_767);
    });
    checkDistinct(
      'gateway.chassis',
      g.chassis.map((c) => c.name),
    );

    externals.push(providerExternal(rangeId));
    desired.push(
      routerPort(names.gatewayPort, g.mac, g.networks, names.router, ownerIds(ids, RowKind.VpcGatewayPort)),
      ...g.chassis.map((c): DesiredRow => ({
        table: 'Gateway_Chassis',
        columns: {
          name: names.gatewayChassis(c.name),
          chassis_name: c.name,
          priority: c.priority,
          options: {},
          external_ids: ownerIds(ids, RowKind.VpcGatewayChassis),
        },
        parents: [
          {
            table: 'Logical_Router_Port',
            column: 'gateway_chassis',
            parent: { row: `Logical_Router_Port/name=${names.gatewayPort}` },
          },
        ],
      })),
      {
        table: 'Logical_Switch_Port',
        columns: {
          ...routerPeer(names.providerRouterPort, names.gatewayPort),
          // The gateway chassis announces the router's NAT and load balancer addresses (GARP),
          // so the provider network learns where they went when the gateway moves.
          options: { 'router-port': names.gatewayPort, 'nat-addresses': 'router' },
          external_ids: ownerIds({ ...ids, range: rangeId }, RowKind.VpcProviderRouterPort),
        },
        parents: [{ table: 'Logical_Switch', column: 'ports', parent: { external: 'provider-switch' } }],
      },
    );
    if (g.nexthop !== undefined) {
      checkIpv4('gateway.nexthop', g.nexthop);
      // Replies to clients beyond the provider subnet, and egress, leave through its gateway.
      desired.push({
        table: 'Logical_Router_Static_Route',
        columns: {
          ip_prefix: '0.0.0.0/0',
          nexthop: g.nexthop,
          output_port: names.gatewayPort,
          policy: null,
          route_table: '',
          options: {},
          external_ids: ownerIds(ids, RowKind.VpcDefaultRoute),
        },
        parents: [
          {
            table: 'Logical_Router',
            column: 'static_routes',
            parent: { row: `Logical_Router/name=${names.router}` },
          },
        ],
      });
    }
    if (spec.egress) {
      desired.push({
        table: 'NAT',
        columns: {
          type: 'snat',
          external_ip: addresses[0].address,
          logical_ip: formatCidr(cidr),
          logical_port: null,
          external_mac: null,
          options: {},
          external_ids: ownerIds(ids, RowKind.VpcSnat),
        },
        parents: [{ table: 'Logical_Router', column: 'nat', parent: { row: `Logical_Router/name=${names.router}` } }],
      });
    }
  }

  return {
    description: `VPC ${vpcId}`,
    queries: VPC_KINDS.map(([table, kind]) => scopeQuery(table, { [OwnerKey.vpc]: vpcId, [KIND_KEY]: kind })),
    desired,
    externals,
  };
}

function routerPort(
  name: string,
  mac: string,
  networks: string[],
  router: string,
  externalIds: Record<string, string>,
): DesiredRow {
  return {
    table: 'Logical_Router_Port',
    columns: { name, mac, networks, peer: null, enabled: null, options: {}, external_ids: externalIds },
    parents: [{ table: 'Logical_Router', column: 'ports', parent: { row: `Logical_Router/name=${router}` } }],
  };
}

/** A switch port of type router: the switch's side of a router port. */
function routerPeer(name: string, routerPortName: string) {
  return {
    name,
    type: 'router',
    addresses: ['router'],
    port_security: [],
    enabled: null,
    dhcpv4_options: null,
    options: { 'router-port': routerPortName },
  };
}

/** Everything that names the VPC as owner: its own rows, and its nodes' ports and endpoints. */
export function vpcRemovalScope(vpcId: string): NetworkScope {
  checkUuid('vpcId', vpcId);
  return removal(`VPC ${vpcId}`, { [OwnerKey.vpc]: vpcId });
}

/** A provider network: a switch whose `localnet` port reaches the hosts' provider bridges. */
export function providerScope(spec: ProviderNetworkSpec): NetworkScope {
  const rangeId = checkUuid('rangeId', spec.rangeId);
  checkCidr('cidr', spec.cidr);
  const physnet = checkPlainName('physnet', spec.physnet);
  const names = providerRowNames(rangeId);
  const ids = { range: rangeId };
  return {
    description: `provider network of range ${rangeId}`,
    queries: [
      scopeQuery('Logical_Switch', { [OwnerKey.range]: rangeId, [KIND_KEY]: RowKind.ProviderSwitch }),
      scopeQuery('Logical_Switch_Port', { [OwnerKey.range]: rangeId, [KIND_KEY]: RowKind.ProviderLocalnet }),
    ],
    desired: [
      {
        table: 'Logical_Switch',
        columns: {
          name: names.switch,
          other_config: {},
          external_ids: { ...ownerIds(ids, RowKind.ProviderSwitch), 'kaas:cidr': spec.cidr },
        },
        parents: [],
      },
      {
        table: 'Logical_Switch_Port',
        columns: {
          name: names.localnet,
          type: 'localnet',
          addresses: ['unknown'],
          port_security: [],
          enabled: null,
          dhcpv4_options: null,
          options: { network_name: physnet },
          external_ids: ownerIds(ids, RowKind.ProviderLocalnet),
        },
        parents: [{ table: 'Logical_Switch', column: 'ports', parent: { row: `Logical_Switch/name=${names.switch}` } }],
      },
    ],
    externals: [],
  };
}

/** Removes the provider switch; routers' gateway ports on it go with it. */
export function providerRemovalScope(rangeId: string): NetworkScope {
  checkUuid('rangeId', rangeId);
  return {
    description: `provider network of range ${rangeId}`,
    queries: [
      scopeQuery('Logical_Switch', { [OwnerKey.range]: rangeId, [KIND_KEY]: RowKind.ProviderSwitch }),
      scopeQuery('Logical_Switch_Port', { [OwnerKey.range]: rangeId, [KIND_KEY]: RowKind.ProviderLocalnet }),
    ],
    desired: [],
    externals: [],
  };
}

function removal(description: string, owner: Record<string, string>): NetworkScope {
  return { description, queries: MODEL_TABLES.map((table) => scopeQuery(table, owner)), desired: [], externals: [] };
}
