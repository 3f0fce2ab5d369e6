import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { EventsService } from '../clusters/events.service.js';
import { setCondition } from '../common/conditions.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
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
    if (!runtime?.driver || !runtime.simulator)
      throw new Error(`simulated host ${payload.hostId} is not held by this worker`);
    const domain = libvirtNames.domain(payload.nodeId);
    if (payload.fault === 'crash') {
      await runtime.driver.destroyDomain(domain);
      return { applied: true };
    }
    return { applied: runtime.simulator.fault(domain, payload.fault) };
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
    if (!runtime?.driver) return report;
    const driver = runtime.driver;
    const nodes = await this.nodes.forHost(payload.hostId);
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
    await this.drainStep(payload.hostId, nodes);
    await this.collectUnusedNetworksAndPools(payload.hostId);
    for (const clusterId of touchedClusters)
      await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    await this.hosts.update(payload.hostId, { lastSeenAt: new Date(), state: 'Ready' });
    report.ms = Date.now() - started;
    this.sweeps.observe({ simulated: String(runtime.host.simulated) }, report.ms / 1000);
    return report;
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
      for (const pool of await driver.listPools()) {
        await driver.removeVolume(pool, libvirtNames.nodeVolume(d.owner.nodeId));
        await driver.removeVolume(pool, libvirtNames.seedVolume(d.owner.nodeId));
      }
      this.orphanFirstSeen.delete(d.name);
      this.orphans.inc();
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
    for (const name of await driver.listNetworks()) {
      const vpcId = idOf(name, 'kaas-vpc-');
      const rangeId = idOf(name, 'kaas-fip-');
      const gone = vpcId
        ? !(await this.vpcs.findById(vpcId))
        : rangeId
          ? !(await this.floatingIps.findRangeById(rangeId))
          : false;
      if (gone) {
        await driver.removeNetwork(name);
        this.logger.info({ hostId, network: name }, 'removed the network of a deleted VPC or range');
      }
    }
    for (const name of await driver.listPools()) {
      const poolId = idOf(name, 'kaas-pool-');
      if (poolId && !(await this.pools.findById(poolId)) && (await driver.listVolumes(name)).length === 0) {
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
