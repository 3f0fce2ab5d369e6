import { broadcast, formatIpv4 } from '../../common/cidr.js';
import { checkCidr } from './ovn-spec-checks.js';

/** What the platform hands the network model: its records, reduced to what OVN needs. */

export interface GatewayChassisSpec {
  /** The chassis' Open vSwitch system-id. */
  name: string;
  /** The highest priority that is up carries the gateway. */
  priority: number;
}

export interface VpcGatewaySpec {
  /** The floating-IP range whose provider network the router's gateway port sits on. */
  rangeId: string;
  mac: string;
  /** The router's own provider address, e.g. `['10.250.0.10/24']`; the first one is the SNAT address. */
  networks: string[];
  /** Chassis that may carry the gateway, with priorities; at least one. */
  chassis: GatewayChassisSpec[];
  /** The provider network's gateway: the router's default route leads there. Without it, only the provider subnet is reached. */
  nexthop?: string;
}

export interface VpcNetworkSpec {
  vpcId: string;
  tenantId: string;
  cidr: string;
  /** Guests' MTU, handed out by DHCP: 1442 leaves room for Geneve on a 1500-byte underlay. */
  mtu: number;
  /** DNS servers handed out by DHCP; empty hands out none. */
  dns: string[];
  /** Source NAT of the VPC to the router's provider address. Needs a gateway. */
  egress: boolean;
  /** The router's port on a provider network; without it the VPC has no way out and no endpoint. */
  gateway?: VpcGatewaySpec;
  leaseTimeSeconds?: number;
}

export interface ProviderNetworkSpec {
  rangeId: string;
  cidr: string;
  /** The name `ovn-bridge-mappings` maps to a provider bridge on each host. */
  physnet: string;
}

export interface NodePortSpec {
  nodeId: string;
  vpcId: string;
  tenantId: string;
  clusterId: string;
  mac: string;
  ip: string;
}

export interface HealthCheckSpec {
  intervalSeconds: number;
  timeoutSeconds: number;
  successCount: number;
  failureCount: number;
}

export interface EndpointBackend {
  nodeId: string;
  ip: string;
}

export interface ClusterEndpointSpec {
  clusterId: string;
  vpcId: string;
  tenantId: string;
  /** The VPC's CIDR: backends must lie in it, and the health checks' source address comes from it. */
  vpcCidr: string;
  floatingIp: string;
  /** The one TCP port the floating IP answers on. */
  port: number;
  /** Ready masters. An empty list keeps the address but refuses connections. */
  backends: EndpointBackend[];
  healthCheck?: HealthCheckSpec;
}

export const DEFAULT_LEASE_TIME_SECONDS = 3600;
/** A dead backend is out of rotation after about interval × failures + timeout (5 s). */
export const DEFAULT_HEALTH_CHECK: HealthCheckSpec = {
  intervalSeconds: 2,
  timeoutSeconds: 1,
  successCount: 1,
  failureCount: 2,
};

/**
 * The VPC address OVN's health checks come from: the last host address. It must not be given to
 * a node (IPAM skips it). It cannot be the gateway: a backend's answer to the router's own
 * address is taken by the router and the check never sees it (measured: every backend offline).
 */
export function healthCheckSourceAddress(vpcCidr: string): string {
  const cidr = checkCidr('vpcCidr', vpcCidr);
  return formatIpv4(broadcast(cidr) - 1);
}
