import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Gauge, Histogram } from 'prom-client';
import { APP_CONFIG, APP_LOGGER } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import { HostLeases } from '../../hypervisor/host-leases.service.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { JobQueue, type JobPayloads } from '../../jobs/job-types.js';
import { OnJob } from '../../jobs/on-job.decorator.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { MetricsService } from '../../platform/metrics.service.js';
import type { HostBackend } from '../../hypervisor/backends/index.js';
import type { HostEntity } from '../../hypervisor/host.entity.js';
import { TenantNetwork } from '../network/tenant-network.service.js';
import { CLUSTER_NUDGE_GATHER_MS } from '../node/node.reconciler.js';
import { DrainStep } from './drain.step.js';
import { FencingStep } from './fencing.step.js';
import { NodeHealthStep } from './node-health.step.js';
import { OrphanVmsCollector } from './orphan-vms.collector.js';
import { UnreachableHostStep } from './unreachable-host.step.js';
import { UnusedObjectsCollector } from './unused-objects.collector.js';

export interface SweepReport {
  hostId: string;
  nodes: number;
  unhealthy: number;
  recreated: number;
  orphansDestroyed: number;
  ms: number;
}

/**
 * The sweep of one host (its own job on the host's queue, so hosts are swept in parallel by
 * whichever workers hold them), in steps of their own: fencing, node health, orphan VMs, drain,
 * the collection of unused pools and bundle volumes, and the host's network readiness (its OVN
 * chassis). An unreachable host gets only its own step: its nodes become unhealthy once the host
 * has been away long enough.
 */
@Injectable()
export class HostSweepHandler implements OnModuleInit {
  private sweeps!: Histogram<'simulated'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly leases: HostLeases,
    private readonly nodes: NodesRepository,
    private readonly hosts: HostsRepository,
    private readonly jobs: JobQueue,
    private readonly metrics: MetricsService,
    private readonly unreachableHost: UnreachableHostStep,
    private readonly fencing: FencingStep,
    private readonly health: NodeHealthStep,
    private readonly orphanVms: OrphanVmsCollector,
    private readonly drain: DrainStep,
    private readonly unusedObjects: UnusedObjectsCollector,
    private readonly network: TenantNetwork,
  ) {}

  onModuleInit(): void {
    this.sweeps = new Histogram({
      name: 'kaas_host_sweep_seconds',
      help: 'Duration of one host health sweep (of a host that answers)',
      labelNames: ['simulated'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
      registers: [this.metrics.registry],
    });
    // A sweep that takes about as long as the period between sweeps falls behind: alerts compare.
    new Gauge({
      name: 'kaas_host_sweep_interval_seconds',
      help: 'Period between two sweeps of a host (KAAS_HEALTH_INTERVAL_SECONDS)',
      registers: [this.metrics.registry],
    }).set(this.config.healthIntervalSeconds);
    this.leases.setDomainStoppedHandler((hostId, domainName) => {
      // A VM stopped without being asked: sweep its host now instead of at the next tick.
      this.logger.warn({ hostId, domainName }, 'VM stopped unexpectedly');
      void this.jobs
        .enqueue('host.sweep', { hostId }, { hostId, resourceKey: `sweep-${hostId}` })
        .catch(() => undefined);
    });
  }

  @OnJob('host.sweep')
  async sweep(payload: JobPayloads['host.sweep']): Promise<SweepReport> {
    const started = Date.now();
    const { hostId } = payload;
    const runtime = this.leases.runtime(hostId);
    const report: SweepReport = { hostId, nodes: 0, unhealthy: 0, recreated: 0, orphansDestroyed: 0, ms: 0 };
    if (!runtime) return report;
    const backend = runtime.backend;
    if (!backend) {
      const away = await this.unreachableHost.run(hostId);
      report.unhealthy = away.unhealthy;
      await this.nudgeClusters(away.touchedClusters);
      return report;
    }
    const nodes = await this.nodes.forHost(hostId);
    await this.fencing.run(hostId, runtime, nodes);
    const health = await this.health.run(hostId, backend, nodes);
    report.nodes = health.nodes;
    report.unhealthy = health.unhealthy;
    report.recreated = health.recreated;
    report.orphansDestroyed = await this.orphanVms.run(hostId, runtime, new Set(nodes.map((n) => n.id)));
    await this.drain.run(hostId, nodes);
    await this.unusedObjects.run(hostId, backend);
    await this.nudgeClusters(health.touchedClusters);
    await this.hosts.update(hostId, {
      lastSeenAt: new Date(),
      ...(await this.networkReadiness(runtime.host)),
      ...(await this.measuredDisk(runtime.host, backend)),
    });
    report.ms = Date.now() - started;
    this.sweeps.observe({ simulated: String(backend.kind === 'simulated') }, report.ms / 1000);
    return report;
  }

  /**
   * A real host takes nodes only once its chassis is in the Southbound database: without its
   * ovn-controller, guests there would have no network.
   */
  private async networkReadiness(
    host: HostEntity,
  ): Promise<Pick<HostEntity, 'state' | 'lastError'> | { state: 'Ready' }> {
    if (host.simulated) return { state: 'Ready' };
    const chassis = host.chassis ?? host.name;
    let up: boolean | undefined;
    try {
      up = await this.network.chassisUp(chassis);
    } catch (err) {
      this.logger.warn({ hostId: host.id, err: (err as Error).message }, 'cannot read the Southbound database');
      return { state: 'Ready' };
    }
    if (up === false)
      return {
        state: 'Pending',
        lastError: `its Open vSwitch chassis "${chassis}" is not in OVN's Southbound database (is ovn-controller running, with external_ids:system-id=${chassis}?)`,
      };
    return { state: 'Ready', lastError: null };
  }

  /**
   * A host registered without its disk size gets the one its platform pool reports, once: the
   * host record this worker holds carries it from then on, so later sweeps neither read nor write.
   */
  private async measuredDisk(host: HostEntity, backend: HostBackend): Promise<{ diskGiB?: number }> {
    if (host.diskGiB !== null) return {};
    const measured = await backend.storageCapacityGiB().catch(() => undefined);
    if (!measured) return {};
    host.diskGiB = measured;
    return { diskGiB: measured };
  }

  private async nudgeClusters(ids: Set<string>): Promise<void> {
    for (const clusterId of ids)
      await this.jobs.enqueue(
        'cluster.reconcile',
        { clusterId },
        { resourceKey: clusterId, gatherMs: CLUSTER_NUDGE_GATHER_MS },
      );
  }
}
