import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG, APP_LOGGER } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import type { HostBackend } from '../../hypervisor/backends/index.js';
import { libvirtNames, macFor, ownerOf } from '../../hypervisor/xml/names.js';
import { FloatingIpsRepository } from '../../networks/floating-ips.repository.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';

type DhcpEntry = { mac: string; ip: string };

/**
 * The host sweep's look at static DHCP entries, the one libvirt state a VM's presence does not
 * vouch for. Entries of nobody (a VPC entry whose MAC and address are no node's on this host, a
 * floating-IP entry that does not point at the provider NIC of the address's current holder here)
 * are removed after the orphan grace period, looked up afresh in the database first. Nodes
 * whose own entry is missing are named, so that their reconcile puts it back. Both happen when a
 * node's work ran against another worker's view of a simulated host (a lease handed over while
 * Redis was away) or a floating IP's move was interrupted.
 */
@Injectable()
export class DhcpAudit {
  private readonly firstSeen = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly nodes: NodesRepository,
    private readonly floatingIps: FloatingIpsRepository,
  ) {}

  /** Removes orphan entries; returns the ids of nodes whose entry is missing. */
  async run(hostId: string, backend: HostBackend, hostNodes: NodeEntity[]): Promise<string[]> {
    const entries = new Map<string, DhcpEntry[]>();
    for (const network of await backend.listNetworks()) {
      if (ownerOf.vpcNetwork(network) || ownerOf.providerNetwork(network))
        entries.set(network, await backend.dhcpHosts(network));
    }
    await this.removeOrphans(hostId, backend, entries);

    const missing = new Set<string>();
    const has = (network: string | undefined, ip: string, mac: string) =>
      [...entries.entries()].some(
        ([name, list]) =>
          (network === undefined ? ownerOf.vpcNetwork(name) !== undefined : name === network) &&
          list.some((e) => e.ip === ip && e.mac.toLowerCase() === mac),
      );
    const live = hostNodes.filter((n) => !n.deleteRequestedAt && n.bootStartedAt !== null && n.address);
    for (const n of live) if (!has(undefined, n.address!, n.mac.toLowerCase())) missing.add(n.id);
    const masters = live.filter((n) => n.role === 'master').map((n) => n.id);
    for (const fip of await this.floatingIps.heldBy(masters)) {
      const holder = fip.holderNodeId!;
      if (!has(libvirtNames.providerNetwork(fip.rangeId), fip.address, macFor(holder, 'provider'))) missing.add(holder);
    }
    return [...missing];
  }

  private async removeOrphans(hostId: string, backend: HostBackend, entries: Map<string, DhcpEntry[]>): Promise<void> {
    const now = Date.now();
    const seen = new Set<string>();
    const owns = await this.owners(hostId, entries);
    for (const [network, list] of entries) {
      const vpc = ownerOf.vpcNetwork(network) !== undefined;
      for (const entry of list) {
        const key = `${hostId}/${network}/${entry.mac}/${entry.ip}`;
        if (vpc ? owns.vpcEntry(entry) : owns.floatingEntry(entry)) continue;
        seen.add(key);
        const first = this.firstSeen.get(key) ?? now;
        this.firstSeen.set(key, first);
        if (now - first < this.config.orphanGraceSeconds * 1000) continue;
        await backend.removeDhcpHost(network, entry);
        this.firstSeen.delete(key);
        this.logger.warn({ hostId, network, mac: entry.mac, ip: entry.ip }, 'orphan DHCP entry removed');
      }
    }
    for (const key of this.firstSeen.keys())
      if (key.startsWith(`${hostId}/`) && !seen.has(key)) this.firstSeen.delete(key);
  }

  /**
   * Who the host's entries belong to, read afresh in one query per kind: a host holds hundreds of
   * entries, and a query for each made one sweep take seconds.
   */
  private async owners(hostId: string, entries: Map<string, DhcpEntry[]>) {
    const all = [...entries].flatMap(([network, list]) => list.map((e) => ({ network, ...e })));
    const inVpc = (e: { network: string }) => ownerOf.vpcNetwork(e.network) !== undefined;
    const vpcMacs = all.filter(inVpc).map((e) => e.mac.toLowerCase());
    const floatingIps = all.filter((e) => !inVpc(e)).map((e) => e.ip);
    const nodeByMac = new Map((await this.nodes.findByMacs(vpcMacs)).map((n) => [n.mac.toLowerCase(), n]));
    const fipByAddress = new Map((await this.floatingIps.findByAddresses(floatingIps)).map((f) => [f.address, f]));
    const holders = [...fipByAddress.values()].flatMap((f) => (f.holderNodeId ? [f.holderNodeId] : []));
    const holderHost = new Map((await this.nodes.findByIds(holders)).map((n) => [n.id, n.hostId]));
    return {
      vpcEntry: (entry: DhcpEntry) => {
        const node = nodeByMac.get(entry.mac.toLowerCase());
        return node !== undefined && node.hostId === hostId && node.address === entry.ip;
      },
      floatingEntry: (entry: DhcpEntry) => {
        const holder = fipByAddress.get(entry.ip)?.holderNodeId;
        if (!holder || macFor(holder, 'provider') !== entry.mac.toLowerCase()) return false;
        return holderHost.get(holder) === hostId;
      },
    };
  }
}
