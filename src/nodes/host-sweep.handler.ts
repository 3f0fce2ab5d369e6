import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { BundlesService } from '../clusters/bundles.service.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { EventsService } from '../clusters/events.service.js';
import { setCondition } from '../common/conditions.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import type { HostInventory } from '../hypervisor/host-driver.js';
import { HostLeases } from '../hypervisor/host-leases.service.js';
import { HostsRepository } from '../hypervisor/hosts.repository.js';
import { libvirtNames } from '../hypervisor/xml/names.js';
import { JobQueue, type JobPayloads } from '../jobs/job-types.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import { VpcsRepository } from '../networks/vpcs.repository.js';
import { MetricsService } from '../platform/metrics.service.js';
import { StoragePoolsRepository } from '../storage-pools/storage-pools.repository.js';
import { assessNode, HEALTH_DEFAULTS } from './health.js';
import type { NodeEntity, NodeUsage } from './node.entity.js';
import { NodesRepository } from './nodes.repository.js';
import { DhcpAudit } from './dhcp-audit.js';

/** Runs fn over items with at most `limit` running at once. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

/** CPU use since the previous sample, as a share of the node's vCPUs. */
function usageOf(
  node: NodeEntity,
  stats: { cpuTimeNs: number; memoryKiB: number; vcpus: number },
  now: number,
): NodeUsage {
  const prev = node.usage;
  const elapsedNs = prev ? (now - new Date(prev.sampledAt).getTime()) * 1e6 : 0;
  const cpuPercent =
    prev && elapsedNs > 0
      ? Math.max(0, Math.min(100, ((stats.cpuTimeNs - prev.cpuTimeNs) / elapsedNs / stats.vcpus) * 100))
      : 0;
  return {
    cpuPercent: Math.round(cpuPercent * 10) / 10,
    memoryMiB: Math.round(stats.memoryKiB / 1024),
    sampledAt: new Date(now).toISOString(),
    cpuTimeNs: stats.cpuTimeNs,
  };
}

export interface SweepReport {
  hostId: string;
  nodes: number;
  unhealthy: number;
  recreated: number;
  orphansDestroyed: number;
  ms: number;
}

/**
 * The health sweep of one host (its own job on the host's queue, so hosts are swept in parallel
 * by whichever workers hold them): VM state and guest probe for every node, heartbeats,
 * conditions and usage, missing VMs recreated, orphans collected after a grace period.
 */
@Injectable()
export class HostSweepHandler implements OnModuleInit {
  private readonly orphanFirstSeen = new Map<string, number>();
  private sweeps!: Histogram<'simulated'>;
  private orphans!: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly leases: HostLeases,
    private readonly nodes: NodesRepository,
    private readonly clusters: ClustersRepository,
    private readonly hosts: HostsRepository,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
    private readonly metrics: MetricsService,
    private readonly vpcs: VpcsRepository,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly pools: StoragePoolsRepository,
    private readonly bundles: BundlesService,
    private readonly dhcpAudit: DhcpAudit,
  ) {}

  onModuleInit(): void {
    this.sweeps = new Histogram({
      name: 'kaas_host_sweep_seconds',
      help: 'Duration of one host health sweep',
      labelNames: ['simulated'],
      registers: [this.metrics.registry],
    });
    this.orphans = new Counter({
      name: 'kaas_orphans_destroyed_total',
      help: 'VMs with platform metadata but no node, destroyed',
      registers: [this.metrics.registry],
    });
    this.leases.setDomainStoppedHandler((hostId, domainName) => {
      // A VM stopped without being asked: sweep its host now instead of at the next tick.
      this.logger.warn({ hostId, domainName }, 'VM stopped unexpectedly');
      void this.jobs
        .enqueue('host.sweep', { hostId }, { hostId, resourceKey: `sweep-${hostId}` })
        .catch(() => undefined);
    });
  }

  @OnJob('host.fault')
  async fault(payload: JobPayloads['host.fault']): Promise<{ applied: boolean }> {
    const runtime = this.leases.runtime(payload.hostId);
    if (payload.fault === 'unreachable' || payload.fault === 'reachable') {
      if (!runtime?.simulator) throw new Error(`simulated host ${payload.hostId} is not held by this worker`);
      return { applied: await runtime.partition(payload.fault === 'unreachable') };
    }
    if (!runtime?.driver || !runtime.simulator)
      throw new Error(`simulated host ${payload.hostId} is not held by this worker`);
    if (!payload.nodeId) throw new Error(`fault ${payload.fault} needs a node`);
    const domain = libvirtNames.domain(payload.nodeId);
    if (payload.fault === 'cpu-load') {
      const node = await this.nodes.findById(payload.nodeId);
      return { applied: runtime.simulator.setCpuLoad(domain, payload.cpuPercent ?? 0, node?.vcpus ?? 1) };
    }
    if (payload.fault === 'crash') {
      await runtime.driver.destroyDomain(domain);
      return { applied: true };
    }
    return { applied: runtime.simulator.fault(domain, payload.fault) };
  }

  /** What libvirt holds on the host (`GET /v1/hosts/:id/inventory`), for audits and tests. */
  @OnJob('host.inventory')
  async inventory(payload: JobPayloads['host.inventory']): Promise<HostInventory> {
    const driver = this.leases.runtime(payload.hostId)?.driver;
    if (!driver) throw new Error(`host ${payload.hostId} is not connected in this worker`);
    return driver.inventory();
  }

  @OnJob('host.sweep')
  async sweep(payload: JobPayloads['host.sweep']): Promise<SweepReport> {
    const started = Date.now();
    const runtime = this.leases.runtime(payload.hostId);
    const report: SweepReport = {
      hostId: payload.hostId,
      nodes: 0,
      unhealthy: 0,
      recreated: 0,
      orphansDestroyed: 0,
      ms: 0,
    };
    if (!runtime) return report;
    if (!runtime.driver) {
      report.unhealthy = await this.unreachableHostStep(payload.hostId);
      return report;
    }
    const driver = runtime.driver;
    const nodes = await this.nodes.forHost(payload.hostId);
    await this.fenceStep(payload.hostId, nodes);
    const settingsByCluster = await this.clusters.settingsOf([...new Set(nodes.map((n) => n.clusterId))]);
    const touchedClusters = new Set<string>();
    const heartbeats: { id: string; at: Date; usage: NodeUsage | null }[] = [];
    const now = Date.now();
    await mapLimit(
      nodes.filter((n) => !n.deleteRequestedAt && n.bootStartedAt !== null),
      32,
      async (node) => {
        report.nodes++;
        const settings = settingsByCluster.get(node.clusterId) ?? {};
        const domain = libvirtNames.domain(node.id);
        const info = await driver.domainStats(domain);
        // Simulated guests run no code: their CPU time comes from the simulator's load.
        const simulatedCpu = info && runtime.simulator?.cpuTimeNs(domain, info.vcpus);
        if (info && simulatedCpu !== undefined) info.cpuTimeNs = simulatedCpu;
        const vmState = info ? info.state : 'absent';
        if (vmState === 'absent') {
          // Deleted behind the platform's back: the node reconciler recreates it.
          report.recreated++;
          await this.jobs.enqueue(
            'node.reconcile',
            { nodeId: node.id },
            { hostId: payload.hostId, resourceKey: node.id },
          );
          return;
        }
        const probe =
          vmState === 'running' ? await runtime.probe.probe({ domainName: domain, address: node.address }) : undefined;
        const health = assessNode({
          now,
          vmState,
          probe: probe ? { answered: probe.answered, ready: probe.answered && probe.status.ready } : undefined,
          bootStartedAt: node.bootStartedAt!.getTime(),
          readyAt: node.readyAt?.getTime() ?? null,
          failingSince: node.failingSince?.getTime() ?? null,
          startupTimeoutSeconds: settings.nodeStartupTimeoutSeconds ?? HEALTH_DEFAULTS.nodeStartupTimeoutSeconds,
          unhealthyTimeoutSeconds: settings.unhealthyTimeoutSeconds ?? HEALTH_DEFAULTS.unhealthyTimeoutSeconds,
        });
        if (health.unhealthy) report.unhealthy++;
        const usage = info ? usageOf(node, info, now) : null;
        const patch: Partial<NodeEntity> = {};
        const failingSince = health.failingSince === null ? null : new Date(health.failingSince);
        if ((failingSince?.getTime() ?? null) !== (node.failingSince?.getTime() ?? null))
          patch.failingSince = failingSince;
        if (health.unhealthy && !node.unhealthySince) {
          patch.unhealthySince = new Date(now);
          await this.events.warning(
            { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
            'NodeUnhealthy',
            `${node.name} is unhealthy: ${health.reason}`,
          );
        } else if (!health.unhealthy && node.unhealthySince && health.reason === 'Ready') {
          patch.unhealthySince = null;
        }
        const ready = health.reason === 'Ready';
        if (node.phase === 'Ready' && !ready) patch.phase = 'NotReady';
        if (node.phase === 'NotReady' && ready) patch.phase = 'Ready';
        let conditions = setCondition(
          node.conditions,
          'NodeHealthy',
          health.unhealthy ? 'False' : 'True',
          health.reason,
          health.unhealthy ? `unhealthy: ${health.reason}` : health.reason,
        );
        if (patch.phase) {
          conditions = setCondition(
            conditions,
            'Ready',
            patch.phase === 'Ready' ? 'True' : 'False',
            health.reason,
            health.reason,
          );
          await this.events[patch.phase === 'Ready' ? 'normal' : 'warning'](
            { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
            `Node${patch.phase}`,
            `${node.name}: ${health.reason}`,
          );
        }
        if (JSON.stringify(conditions) !== JSON.stringify(node.conditions)) patch.conditions = conditions;
        if (Object.keys(patch).length) {
          if (health.heartbeat) patch.lastHeartbeatAt = new Date(now);
          if (usage) patch.usage = usage;
          await this.nodes.update(node.id, patch);
          if (patch.phase || patch.unhealthySince !== undefined) touchedClusters.add(node.clusterId);
        } else if (health.heartbeat || usage) {
          // The common case, a healthy node: written in one statement for the whole host below.
          heartbeats.push({
            id: node.id,
            at: health.heartbeat ? new Date(now) : (node.lastHeartbeatAt ?? new Date(0)),
            usage,
          });
        }
      },
    );
    await this.nodes.recordHeartbeats(heartbeats);
    report.orphansDestroyed = await this.collectOrphans(payload.hostId, new Set(nodes.map((n) => n.id)));
    for (const nodeId of await this.dhcpAudit.run(payload.hostId, driver, nodes)) {
      // Its VM is there but its address entry is not: its reconcile puts the entry back.
      await this.jobs.enqueue('node.reconcile', { nodeId }, { hostId: payload.hostId, resourceKey: nodeId });
    }
    await this.drainStep(payload.hostId, nodes);
    await this.collectUnusedNetworksAndPools(payload.hostId);
    for (const clusterId of touchedClusters)
      await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    await this.hosts.update(payload.hostId, { lastSeenAt: new Date(), state: 'Ready' });
    report.ms = Date.now() - started;
    this.sweeps.observe({ simulated: String(runtime.host.simulated) }, report.ms / 1000);
    return report;
  }

  /**
   * The host does not answer. Once it has been gone longer than a cluster's unhealthy timeout,
   * that cluster's nodes on it count as unhealthy (reason HostUnreachable), so remediation
   * places replacements on other hosts. Returns how many nodes are unhealthy.
   */
  private async unreachableHostStep(hostId: string): Promise<number> {
    const host = await this.hosts.findById(hostId);
    if (!host || host.state !== 'Unreachable') return 0;
    const goneSince = (host.lastSeenAt ?? host.createdAt).getTime();
    const nodes = (await this.nodes.forHost(hostId)).filter((n) => !n.deleteRequestedAt);
    const settingsByCluster = await this.clusters.settingsOf([...new Set(nodes.map((n) => n.clusterId))]);
    const now = Date.now();
    const touched = new Set<string>();
    let unhealthy = 0;
    for (const node of nodes) {
      const timeout =
        settingsByCluster.get(node.clusterId)?.unhealthyTimeoutSeconds ?? HEALTH_DEFAULTS.unhealthyTimeoutSeconds;
      if (node.unhealthySince) {
        unhealthy++;
        continue;
      }
      if (now - goneSince <= timeout * 1000) continue;
      unhealthy++;
      const message = `host ${host.name} unreachable since ${new Date(goneSince).toISOString()}`;
      let conditions = setCondition(node.conditions, 'NodeHealthy', 'False', 'HostUnreachable', message);
      conditions = setCondition(conditions, 'Ready', 'False', 'HostUnreachable', message);
      await this.nodes.update(node.id, {
        unhealthySince: new Date(now),
        failingSince: node.failingSince ?? new Date(goneSince),
        conditions,
        ...(node.phase === 'Ready' ? { phase: 'NotReady' as const } : {}),
      });
      await this.events.warning(
        { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
        'NodeUnhealthy',
        `${node.name} is unhealthy: ${message}`,
      );
      touched.add(node.clusterId);
    }
    for (const clusterId of touched)
      await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    return unhealthy;
  }

  /**
   * Fencing, on every sweep of a reachable host (so first thing after it comes back): a node that
   * is being removed has no business running. Its VM is powered off at once (a replacement may
   * already run elsewhere: never two live copies) and its teardown is queued, which the jobs
   * queued while the host was away may not do any more.
   */
  private async fenceStep(hostId: string, nodes: NodeEntity[]): Promise<void> {
    const runtime = this.leases.runtime(hostId);
    const driver = runtime?.driver;
    if (!driver) return;
    for (const node of nodes.filter((n) => n.deleteRequestedAt)) {
      const domain = libvirtNames.domain(node.id);
      const lostWithHost = node.conditions.some((c) => c.type === 'NodeHealthy' && c.reason === 'HostUnreachable');
      if (lostWithHost && (await driver.domainState(domain)) === 'running') {
        runtime.expectStop(domain);
        await driver.destroyDomain(domain);
        await this.events.warning(
          { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
          'NodeFenced',
          `${node.name} was replaced while its host was away; its VM has been powered off`,
        );
      }
      await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId, resourceKey: node.id });
    }
  }

  /** VMs carrying the platform's metadata that no node owns: destroyed after a grace period. */
  private async collectOrphans(hostId: string, known: Set<string>): Promise<number> {
    const driver = this.leases.runtime(hostId)?.driver;
    if (!driver) return 0;
    let destroyed = 0;
    const now = Date.now();
    for (const d of await driver.listOwnedDomains((name) => !known.has(name.replace(/^kaas-node-/, '')))) {
      if (!d.owner || known.has(d.owner.nodeId)) {
        this.orphanFirstSeen.delete(d.name);
        continue;
      }
      // A node created a moment ago may not be in this sweep's snapshot yet: look again.
      if (await this.nodes.findById(d.owner.nodeId)) continue;
      const first = this.orphanFirstSeen.get(d.name) ?? now;
      this.orphanFirstSeen.set(d.name, first);
      if (now - first < this.config.orphanGraceSeconds * 1000) continue;
      this.leases.runtime(hostId)?.expectStop(d.name);
      await driver.removeDomain(d.name);
      this.orphans.inc();
      for (const pool of await driver.listPools()) {
        await driver.removeVolume(pool, libvirtNames.nodeVolume(d.owner.nodeId));
        await driver.removeVolume(pool, libvirtNames.seedVolume(d.owner.nodeId));
      }
      this.orphanFirstSeen.delete(d.name);
      destroyed++;
      this.logger.warn({ hostId, domain: d.name, owner: d.owner }, 'orphan VM destroyed');
      const cluster = await this.clusters.findById(d.owner.clusterId);
      if (cluster) {
        await this.events.warning(
          { tenantId: cluster.tenantId, clusterId: cluster.id, nodeId: d.owner.nodeId },
          'OrphanCollected',
          `VM ${d.name} had no node and was destroyed with its volumes`,
        );
      }
    }
    return destroyed;
  }

  /** Networks and pools of VPCs, pools and ranges that no longer exist, once nothing uses them. */
  private async collectUnusedNetworksAndPools(hostId: string): Promise<void> {
    const driver = this.leases.runtime(hostId)?.driver;
    if (!driver) return;
    const idOf = (name: string, prefix: string) => (name.startsWith(prefix) ? name.slice(prefix.length) : undefined);
    const ids = (names: string[], prefix: string) => names.flatMap((n) => idOf(n, prefix) ?? []);
    // One query per kind for every network and pool of the host, not one each.
    const networks = await driver.listNetworks();
    const pools = await driver.listPools();
    const [vpcs, ranges, storagePools] = await Promise.all([
      this.vpcs.existingIds(ids(networks, 'kaas-vpc-')),
      this.floatingIps.existingRangeIds(ids(networks, 'kaas-fip-')),
      this.pools.existingIds(ids(pools, 'kaas-pool-')),
    ]);
    for (const name of networks) {
      const vpcId = idOf(name, 'kaas-vpc-');
      const rangeId = idOf(name, 'kaas-fip-');
      const gone = vpcId ? !vpcs.has(vpcId) : rangeId ? !ranges.has(rangeId) : false;
      if (gone) {
        await driver.removeNetwork(name);
        this.logger.info({ hostId, network: name }, 'removed the network of a deleted VPC or range');
      }
    }
    if (pools.includes(libvirtNames.platformPool())) {
      // Bundle volumes of replaced artifacts, once no VM has them attached.
      const current = new Set(
        this.bundles
          .list()
          .flatMap((b) =>
            Object.keys(b.manifest.versions).map((v) => libvirtNames.bundleVolume(b.manifest.name, v, b.digest)),
          ),
      );
      const stale = (await driver.listVolumes(libvirtNames.platformPool())).filter(
        (v) => v.startsWith('kaas-bundle-') && !current.has(v),
      );
      if (stale.length > 0) {
        const inUse = await driver.volumesInUse();
        for (const v of stale.filter((x) => !inUse.has(x))) {
          await driver.removeVolume(libvirtNames.platformPool(), v);
          this.logger.info({ hostId, volume: v }, 'removed a bundle volume that no longer matches its bundle');
        }
      }
    }
    for (const name of pools) {
      const poolId = idOf(name, 'kaas-pool-');
      if (poolId && !storagePools.has(poolId) && (await driver.listVolumes(name)).length === 0) {
        await driver.removePool(name);
        this.logger.info({ hostId, pool: name }, 'removed the pool of a deleted storage pool');
      }
    }
  }

  /** A drained host loses its nodes one at a time: each is replaced elsewhere, then removed. */
  private async drainStep(hostId: string, nodes: NodeEntity[]): Promise<void> {
    const host = await this.hosts.findById(hostId);
    if (!host?.drained) return;
    const live = nodes.filter((n) => !n.deleteRequestedAt);
    if (live.some((n) => n.replaceRequestedAt)) return;
    const next = live[0];
    if (!next) return;
    await this.nodes.update(next.id, { replaceRequestedAt: new Date() });
    await this.events.normal(
      { tenantId: next.tenantId, clusterId: next.clusterId, nodeId: next.id },
      'DrainMove',
      `${next.name} moves off drained host ${host.name}`,
    );
    await this.jobs.enqueue('cluster.reconcile', { clusterId: next.clusterId }, { resourceKey: next.clusterId });
  }
}
