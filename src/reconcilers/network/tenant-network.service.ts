import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { parseCidr } from '../../common/cidr.js';
import { Database } from '../../common/database.js';
import { APP_CONFIG, APP_LOGGER } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { FloatingIpsRepository } from '../../networks/floating-ips.repository.js';
import type { VpcEntity } from '../../networks/network.entities.js';
import { OvsdbConnection } from '../../networks/ovn/ovsdb-connection.js';
import {
  type ClusterEndpointSpec,
  DEFAULT_HEALTH_CHECK,
  type EndpointBackend,
  type VpcGatewaySpec,
  type VpcNetworkSpec,
} from '../../networks/ovn/ovn-model.js';
import { derivedMac, nodePortName } from '../../networks/ovn/ovn-names.js';
import { OvnNetworkError, OvnNetworkErrorCode } from '../../networks/ovn/ovn-network-error.js';
import {
  type NorthboundTransactor,
  type OvnNetworkController as Controller,
  OvnNetworkController,
  type OwnedRow,
  type OwnerLiveness,
} from '../../networks/ovn/ovn-network-controller.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { MetricsService } from '../../platform/metrics.service.js';
import { ovnTransactionSeconds, timedTransactor } from './ovn-transaction-metrics.js';

/** What a cluster's endpoint needs, from the cluster's records. */
export interface EndpointRequest {
  clusterId: string;
  tenantId: string;
  vpc: VpcEntity;
  floatingIp: { address: string; rangeId: string };
  port: number;
  masters: NodeEntity[];
}

/** Why a VPC has no way out, when it has none. */
export type GatewayProblem = 'no-range' | undefined;

/** A VPC's way out: its gateway's spec and the provider network it sits on. */
interface Gateway {
  spec: VpcGatewaySpec;
  provider: { rangeId: string; cidr: string; physnet: string };
}

/** How long a scope written or checked by this worker is taken as still in place. */
const ENSURED_TTL_MS = 60_000;

/**
 * The platform's tenant networks in OVN, built from its records: per VPC a switch, a router and
 * (once a floating-IP range exists) a gateway on a provider network with SNAT; per node a port;
 * per cluster a load-balanced endpoint on its floating IP. Every call is idempotent; a scope this
 * worker wrote or checked within the last minute with the same spec is not read again, so a
 * pass over a node that is already in place costs no Northbound round trip.
 */
@Injectable()
export class TenantNetwork implements OnModuleDestroy {
  readonly connection: OvsdbConnection;
  readonly controller: Controller;
  private readonly southbound: OvsdbConnection | undefined;
  /** The Southbound connection with its transactions timed (it is only read). */
  private readonly southboundReads: NorthboundTransactor | undefined;
  private readonly ensured = new Map<string, { spec: string; at: number }>();
  /** Gateways of VPCs as read by this worker (see `gatewayOf`). */
  private readonly gateways = new Map<string, { gateway: Promise<Gateway | undefined>; at: number }>();
  private chassis: { names: Promise<Set<string>>; at: number } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly db: Database,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly hosts: HostsRepository,
    metrics: MetricsService,
  ) {
    const seconds = ovnTransactionSeconds(metrics);
    this.connection = new OvsdbConnection(config.ovn.northbound);
    this.controller = new OvnNetworkController(timedTransactor(this.connection, seconds));
    if (config.ovn.southbound) {
      this.southbound = new OvsdbConnection(config.ovn.southbound, { database: 'OVN_Southbound' });
      this.southboundReads = timedTransactor(this.southbound, seconds);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.connection.close();
    await this.southbound?.close();
  }

  /**
   * Whether a chassis of this name is registered in the Southbound database (its ovn-controller
   * runs and reaches the central databases); undefined when the platform reads no Southbound.
   * One read serves every host's sweep for 2 seconds.
   */
  async chassisUp(name: string): Promise<boolean | undefined> {
    if (!this.southboundReads) return undefined;
    if (!this.chassis || Date.now() - this.chassis.at > 2000) {
      const sb = this.southboundReads;
      const names = sb
        .transact('OVN_Southbound', [{ op: 'select', table: 'Chassis', where: [], columns: ['name'] }] as const)
        .then(([result]) => new Set((result as { rows: { name: string }[] }).rows.map((r) => r.name)));
      this.chassis = { names, at: Date.now() };
      names.catch(() => {
        if (this.chassis?.names === names) this.chassis = undefined;
      });
    }
    return (await this.chassis.names).has(name);
  }

  /**
   * The VPC's switch and router, and its gateway when a floating-IP range exists: the router's
   * provider address is taken once, preferably on the provider network of `preferRangeId`
   * (the floating IP of the cluster that needs it), and kept until the VPC is deleted.
   */
  async ensureVpc(vpc: VpcEntity, preferRangeId?: string): Promise<{ gateway?: VpcGatewaySpec }> {
    const gateway = await this.gatewayOf(vpc, preferRangeId);
    const spec: VpcNetworkSpec = {
      vpcId: vpc.id,
      tenantId: vpc.tenantId,
      cidr: vpc.cidr,
      mtu: this.config.ovn.mtu,
      dns: this.config.ovn.dns,
      egress: this.config.ovn.egress && gateway !== undefined,
      ...(gateway ? { gateway: gateway.spec } : {}),
    };
    if (gateway)
      await this.once(`provider:${gateway.provider.rangeId}`, gateway.provider, (s) =>
        this.controller.ensureProvider(s),
      );
    await this.once(`vpc:${vpc.id}`, spec, (s) => this.controller.ensureVpc(s));
    return gateway ? { gateway: gateway.spec } : {};
  }

  /** The node's port on its VPC's switch, with its address, MAC and port security. */
  async ensurePort(node: NodeEntity, vpc: VpcEntity, preferRangeId?: string): Promise<string> {
    if (!node.address) throw new Error(`node ${node.id} has no address`);
    await this.ensureVpc(vpc, preferRangeId);
    const spec = {
      nodeId: node.id,
      vpcId: vpc.id,
      tenantId: node.tenantId,
      clusterId: node.clusterId,
      mac: node.mac,
      ip: node.address,
    };
    await this.withVpc(vpc, preferRangeId, () =>
      this.once(`port:${node.id}`, spec, (s) => this.controller.ensurePort(s)),
    );
    return nodePortName(node.id);
  }

  async removePort(nodeId: string): Promise<void> {
    this.ensured.delete(`port:${nodeId}`);
    await this.controller.removePort(nodeId);
  }

  /**
   * The cluster's endpoint: its floating IP on the bundle's port, balanced over the Ready masters
   * with OVN's health checks. Returns false when the VPC's router cannot carry it (it sits on
   * another provider network than the floating IP).
   */
  async ensureEndpoint(req: EndpointRequest): Promise<boolean> {
    const { gateway } = await this.ensureVpc(req.vpc, req.floatingIp.rangeId);
    if (!gateway || !(await this.sameProviderNetwork(gateway.rangeId, req.floatingIp.rangeId))) return false;
    const backends: EndpointBackend[] = req.masters
      .filter((n) => n.address)
      .map((n) => ({ nodeId: n.id, ip: n.address! }));
    const spec: ClusterEndpointSpec = {
      clusterId: req.clusterId,
      vpcId: req.vpc.id,
      tenantId: req.tenantId,
      vpcCidr: req.vpc.cidr,
      floatingIp: req.floatingIp.address,
      port: req.port,
      backends,
      healthCheck: DEFAULT_HEALTH_CHECK,
    };
    await this.withVpc(req.vpc, req.floatingIp.rangeId, () =>
      this.once(`endpoint:${req.clusterId}`, spec, (s) => this.controller.ensureEndpoint(s)),
    );
    return true;
  }

  async removeEndpoint(clusterId: string): Promise<void> {
    if (this.ensured.get(`endpoint:${clusterId}`)?.spec === 'removed') return;
    await this.controller.removeEndpoint(clusterId);
    this.ensured.set(`endpoint:${clusterId}`, { spec: 'removed', at: Date.now() });
  }

  /**
   * Removes every row whose VPC, node, cluster or range is gone (in one transaction) and answers
   * which live nodes lack their port (their reconcile puts it back).
   */
  async collect(): Promise<{ removed: OwnedRow[]; nodesWithoutPort: string[]; clustersToLookAt: string[] }> {
    let ids: { vpcs: Set<string>; nodes: Set<string>; clusters: Set<string>; ranges: Set<string> } | undefined;
    const load = async () => {
      // Read after the rows were: a row written for a record that exists is never taken for garbage.
      ids ??= {
        vpcs: await this.idSet('vpcs'),
        nodes: await this.idSet('nodes'),
        clusters: await this.idSet('clusters'),
        ranges: await this.idSet('floating_ip_ranges'),
      };
      return ids;
    };
    const liveness: OwnerLiveness = {
      vpc: async (id) => (await load()).vpcs.has(id),
      node: async (id) => (await load()).nodes.has(id),
      cluster: async (id) => (await load()).clusters.has(id),
      range: async (id) => (await load()).ranges.has(id),
    };
    const removed = await this.controller.collectGarbage(liveness);
    // Gateways are read again once anything was removed (a range, a VPC's router port).
    if (removed.length > 0) this.gateways.clear();
    for (const row of removed) {
      if (row.owners.nodeId) this.ensured.delete(`port:${row.owners.nodeId}`);
      if (row.owners.vpcId) this.ensured.delete(`vpc:${row.owners.vpcId}`);
      if (row.owners.clusterId) this.ensured.delete(`endpoint:${row.owners.clusterId}`);
      if (row.owners.rangeId) this.ensured.delete(`provider:${row.owners.rangeId}`);
    }
    if (removed.length > 0)
      this.logger.info(
        { rows: removed.length, tables: [...new Set(removed.map((r) => r.table))] },
        'removed network rows nothing owns',
      );
    const owned = await this.controller.listOwnedRows();
    const ports = new Set(owned.filter((r) => r.table === 'Logical_Switch_Port').map((r) => r.owners.nodeId));
    const endpoints = new Set(owned.filter((r) => r.table === 'Load_Balancer').map((r) => r.owners.clusterId));
    // Nodes whose VM may exist (they passed the network phase once): a missing port cuts them off.
    const rows: { id: string }[] = await this.db.manager.query(
      `SELECT id FROM nodes WHERE phase IN ('Booting', 'Joining', 'Ready', 'NotReady') AND delete_requested_at IS NULL`,
    );
    const nodesWithoutPort = rows.map((r) => r.id).filter((id) => !ports.has(id));
    for (const id of nodesWithoutPort) this.ensured.delete(`port:${id}`);
    // A cluster whose endpoint should exist and does not, or the other way round (its floating IP
    // was released or moved while the job that follows such a change was lost): a pass fixes it.
    const clusters: { id: string; wants: boolean }[] = await this.db.manager.query(
      `SELECT c.id, (c.floating_ip_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM nodes n WHERE n.cluster_id = c.id AND n.role = 'master' AND n.address IS NOT NULL)) AS wants
         FROM clusters c WHERE c.deleting_at IS NULL`,
    );
    const clustersToLookAt = clusters.filter((c) => c.wants !== endpoints.has(c.id)).map((c) => c.id);
    for (const id of clustersToLookAt) this.ensured.delete(`endpoint:${id}`);
    return { removed, nodesWithoutPort, clustersToLookAt };
  }

  /**
   * Runs a write that needs the VPC's rows; if they are gone although this worker took them as in
   * place (removed by hand, a Northbound database restored from an older copy), the VPC is
   * written again and the write retried once.
   */
  private async withVpc(vpc: VpcEntity, preferRangeId: string | undefined, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (!(err instanceof OvnNetworkError) || err.code !== OvnNetworkErrorCode.DependencyMissing) throw err;
      this.ensured.delete(`vpc:${vpc.id}`);
      this.gateways.delete(vpc.id);
      for (const key of [...this.ensured.keys()]) if (key.startsWith('provider:')) this.ensured.delete(key);
      await this.ensureVpc(vpc, preferRangeId);
      await write();
    }
  }

  /** Forget what this worker took as in place (the next calls read the database again). */
  forget(): void {
    this.ensured.clear();
    this.gateways.clear();
  }

  private async once<S>(key: string, spec: S, apply: (spec: S) => Promise<unknown>): Promise<void> {
    const text = JSON.stringify(spec);
    const known = this.ensured.get(key);
    if (known && known.spec === text && Date.now() - known.at < ENSURED_TTL_MS) return;
    try {
      await apply(spec);
    } catch (err) {
      this.ensured.delete(key);
      throw err;
    }
    this.ensured.set(key, { spec: text, at: Date.now() });
    if (this.ensured.size > 200_000) this.prune();
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, v] of this.ensured) if (now - v.at >= ENSURED_TTL_MS) this.ensured.delete(key);
  }

  /**
   * The VPC's gateway as last read by this worker, within the last minute: its router address is
   * kept until the VPC goes, so passes over the VPC's nodes and clusters need not read it, its
   * range and the hosts again. A VPC without one yet is read every time (a range may come).
   */
  private gatewayOf(vpc: VpcEntity, preferRangeId?: string): Promise<Gateway | undefined> {
    const known = this.gateways.get(vpc.id);
    if (known && Date.now() - known.at < ENSURED_TTL_MS) return known.gateway;
    if (this.gateways.size > 100_000)
      for (const [id, v] of this.gateways) if (Date.now() - v.at >= ENSURED_TTL_MS) this.gateways.delete(id);
    // Passes over one VPC's nodes and cluster run side by side: they share one read.
    const entry = { gateway: this.readGateway(vpc, preferRangeId), at: Date.now() };
    this.gateways.set(vpc.id, entry);
    const drop = () => {
      if (this.gateways.get(vpc.id) === entry) this.gateways.delete(vpc.id);
    };
    entry.gateway.then((gateway) => gateway ?? drop(), drop);
    return entry.gateway;
  }

  private async readGateway(vpc: VpcEntity, preferRangeId?: string): Promise<Gateway | undefined> {
    let router = await this.floatingIps.routerAddressOf(vpc.id);
    if (!router) router = await this.allocateRouterAddress(vpc, preferRangeId);
    if (!router) return undefined;
    const range = await this.floatingIps.findRangeById(router.rangeId);
    if (!range) return undefined;
    const prefix = parseCidr(range.providerCidr);
    if (!prefix.ok) throw new Error(`range ${range.id} has an invalid provider network ${range.providerCidr}`);
    // Every real host may carry the gateway (simulated ones have no chassis, unless all are).
    const all = await this.hosts.list();
    const hosts = all.some((h) => !h.simulated) ? all.filter((h) => !h.simulated) : all;
    const chassis = hosts
      .map((h) => h.chassis ?? h.name)
      .sort()
      .map((name, i, all) => ({ name, priority: all.length - i }));
    if (chassis.length === 0) return undefined;
    return {
      spec: {
        rangeId: range.id,
        mac: derivedMac(`gateway:${vpc.id}`),
        networks: [`${router.address}/${prefix.cidr.prefix}`],
        chassis,
        nexthop: range.gateway,
      },
      provider: { rangeId: range.id, cidr: range.providerCidr, physnet: this.config.ovn.physnet },
    };
  }

  private async allocateRouterAddress(vpc: VpcEntity, preferRangeId?: string) {
    return this.db.transaction(async (tx) => {
      await this.floatingIps.lockAddressSpace(tx);
      const existing = await this.floatingIps.routerAddressOf(vpc.id, tx);
      if (existing) return existing;
      const preferred = preferRangeId ? await this.floatingIps.findRangeById(preferRangeId, tx) : null;
      const allocated =
        (preferred &&
          (await this.floatingIps.allocate(tx, vpc.tenantId, {
            vpcId: vpc.id,
            providerCidr: preferred.providerCidr,
          }))) ||
        (await this.floatingIps.allocate(tx, vpc.tenantId, { vpcId: vpc.id }));
      if (allocated)
        this.logger.info({ vpcId: vpc.id, address: allocated.address }, "took a provider address for the VPC's router");
      return allocated ?? null;
    });
  }

  private async sameProviderNetwork(a: string, b: string): Promise<boolean> {
    if (a === b) return true;
    const [ra, rb] = await Promise.all([this.floatingIps.findRangeById(a), this.floatingIps.findRangeById(b)]);
    return !!ra && !!rb && ra.providerCidr === rb.providerCidr;
  }

  private async idSet(table: 'vpcs' | 'nodes' | 'clusters' | 'floating_ip_ranges'): Promise<Set<string>> {
    const rows: { id: string }[] = await this.db.manager.query(`SELECT id FROM ${table}`);
    return new Set(rows.map((r) => r.id));
  }
}
