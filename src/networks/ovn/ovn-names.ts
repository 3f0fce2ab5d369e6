import { createHash } from 'node:crypto';

/*
 * Every Northbound name the platform writes is derived here from platform ids (UUIDs the
 * platform generated, and chassis names the operator registered), never from tenant input.
 */

export function vpcRowNames(vpcId: string) {
  return {
    switch: `kaas-vpc-${vpcId}`,
    router: `kaas-lr-${vpcId}`,
    routerPort: `kaas-lrp-${vpcId}`,
    switchRouterPort: `kaas-lsp-lr-${vpcId}`,
    gatewayPort: `kaas-lrp-gw-${vpcId}`,
    providerRouterPort: `kaas-lsp-gw-${vpcId}`,
    gatewayChassis: (chassis: string) => `kaas-lrp-gw-${vpcId}-${chassis}`,
  };
}

export function providerRowNames(rangeId: string) {
  return { switch: `kaas-provider-${rangeId}`, localnet: `kaas-ln-${rangeId}` };
}

/** A node's port is named by the node id: libvirt's `interfaceid` must be a UUID. */
export function nodePortName(nodeId: string): string {
  return nodeId;
}

export function endpointRowNames(clusterId: string) {
  return { loadBalancer: `kaas-lb-${clusterId}` };
}

/**
 * A stable, locally administered unicast MAC (first octet 0a) for a router port the platform
 * owns, so that a port re-created after a loss keeps the MAC guests have in their ARP caches.
 */
export function derivedMac(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  return ['0a', ...[...digest.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
