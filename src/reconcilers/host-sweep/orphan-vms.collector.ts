import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { APP_CONFIG, APP_LOGGER } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import { EventsService } from '../../events/events.service.js';
import type { HostRuntime } from '../../hypervisor/host-runtime.js';
import { libvirtNames, ownerOf } from '../../hypervisor/xml/names.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { MetricsService } from '../../platform/metrics.service.js';

/** VMs carrying the platform's metadata that no node owns: destroyed after a grace period. */
@Injectable()
export class OrphanVmsCollector implements OnModuleInit {
  private readonly firstSeen = new Map<string, number>();
  private orphans!: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly nodes: NodesRepository,
    private readonly clusters: ClustersRepository,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.orphans = new Counter({
      name: 'kaas_orphans_destroyed_total',
      help: 'VMs with platform metadata but no node, destroyed',
      registers: [this.metrics.registry],
    });
  }

  /** Returns how many VMs were destroyed. */
  async run(hostId: string, runtime: HostRuntime, known: Set<string>): Promise<number> {
    const backend = runtime.backend;
    if (!backend) return 0;
    let destroyed = 0;
    const now = Date.now();
    const unknown = (name: string) => {
      const id = ownerOf.domain(name);
      return id === undefined || !known.has(id);
    };
    for (const d of await backend.listOwnedDomains(unknown)) {
      if (!d.owner || known.has(d.owner.nodeId)) {
        this.firstSeen.delete(d.name);
        continue;
      }
      // A node created a moment ago may not be in this sweep's snapshot yet: look again.
      if (await this.nodes.findById(d.owner.nodeId)) continue;
      const first = this.firstSeen.get(d.name) ?? now;
      this.firstSeen.set(d.name, first);
      if (now - first < this.config.orphanGraceSeconds * 1000) continue;
      runtime.expectStop(d.name);
      await backend.removeDomain(d.name);
      this.orphans.inc();
      for (const pool of await backend.listPools()) {
        await backend.removeVolume(pool, libvirtNames.nodeVolume(d.owner.nodeId));
        await backend.removeVolume(pool, libvirtNames.seedVolume(d.owner.nodeId));
      }
      this.firstSeen.delete(d.name);
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
}
