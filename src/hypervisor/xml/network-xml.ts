import { el, renderXml } from './xml-builder.js';

export interface DhcpHost {
  mac: string;
  ip: string;
  name?: string;
}

export interface NetworkSpec {
  name: string;
  bridge: string;
  /** The host's address on the network: the VPC gateway. */
  gateway: string;
  prefix: number;
  hosts: DhcpHost[];
  /** Kept in the network's description so that orphans can be traced to their VPC. */
  ownerNote?: string;
}

const BRIDGE = /^[a-z0-9][a-z0-9_-]{0,14}$/;
const DNS = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * An isolated libvirt network (no <forward>): guests reach each other and the host's gateway
 * address, nothing is routed between VPCs. DHCP hands each MAC its platform-chosen address;
 * the dynamic range is a single unused-looking address so unknown MACs get nothing useful.
 */
export function networkXml(spec: NetworkSpec): string {
  if (!BRIDGE.test(spec.bridge)) throw new Error(`invalid bridge name ${spec.bridge}`);
  return renderXml(
    el(
      'network',
      {},
      el('name', {}, spec.name),
      spec.ownerNote ? el('title', {}, spec.ownerNote) : undefined,
      el('bridge', { name: spec.bridge, stp: 'off', delay: 0 }),
      el('dns', { enable: 'no' }),
      el(
        'ip',
        { address: spec.gateway, prefix: spec.prefix },
        el('dhcp', {}, ...spec.hosts.map((h) => dhcpHostElement(h))),
      ),
    ),
  );
}

/**
 * Leases of static entries last 2 minutes (dnsmasq's minimum; guests renew every minute).
 * dnsmasq will not hand an address to a new MAC while an old MAC's lease on it runs, and libvirt
 * has no call to drop a lease: short leases let a released address (after its quarantine, which
 * is longer) or a floating IP moved to another master reach its new holder quickly.
 */
export const DHCP_LEASE_MINUTES = 2;

function dhcpHostElement(h: DhcpHost) {
  if (h.name !== undefined && !DNS.test(h.name)) throw new Error(`invalid DHCP host name ${h.name}`);
  return el(
    'host',
    { mac: h.mac, ip: h.ip, name: h.name },
    el('lease', { expiry: DHCP_LEASE_MINUTES, unit: 'minutes' }),
  );
}

/** The `<host>` snippet for virNetworkUpdate (section ip-dhcp-host). */
export function dhcpHostXml(h: DhcpHost): string {
  return renderXml(dhcpHostElement(h));
}
