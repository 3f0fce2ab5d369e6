import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Database } from '../common/database.js';
import { gaugesFilledTogether, MetricsService } from '../platform/metrics.service.js';

interface UsageRow {
  tenant_id: string;
  cluster_id: string;
  cluster: string;
  node_id: string;
  node: string;
  role: string;
  cpu: number | null;
  mem: number | null;
}

/**
 * CPU and memory use per node and per cluster in the API's /metrics (the fleet registry), read at
 * scrape time from what the health sweeps sampled (libvirt domain statistics), so any API process
 * can serve them. CPU is a ratio of the vCPUs in use, 0 to 1 (1: every vCPU of the node busy);
 * a cluster's is the average over its sampled nodes (as in GET /v1/clusters/:id, which says
 * percent), its memory the sum.
 */
@Injectable()
export class UsageMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly db: Database,
  ) {}

  onModuleInit(): void {
    const nodeLabels = ['tenant_id', 'cluster_id', 'cluster', 'node_id', 'node', 'role'];
    const clusterLabels = ['tenant_id', 'cluster_id', 'cluster'];
    // One query fills all four.
    gaugesFilledTogether(
      this.metrics.fleetRegistry,
      {
        nodeCpu: {
          name: 'kaas_node_cpu_ratio',
          help: "Share of a node's vCPUs in use (0 to 1) at the last health sweep",
          labelNames: nodeLabels,
        },
        nodeMem: {
          name: 'kaas_node_memory_bytes',
          help: "Memory of a node's VM, bytes, as libvirt reported it at the last health sweep",
          labelNames: nodeLabels,
        },
        clusterCpu: {
          name: 'kaas_cluster_cpu_ratio',
          help: "Average share of the vCPUs in use over a cluster's sampled nodes (0 to 1)",
          labelNames: clusterLabels,
        },
        clusterMem: {
          name: 'kaas_cluster_memory_bytes',
          help: "Memory of a cluster's node VMs together, bytes",
          labelNames: clusterLabels,
        },
      },
      (gauges) => this.fill(gauges),
    );
  }

  private async fill(g: Record<'nodeCpu' | 'nodeMem' | 'clusterCpu' | 'clusterMem', Gauge>): Promise<void> {
    let data: UsageRow[];
    try {
      data = await this.db.manager.query(
        `SELECT n.tenant_id, n.cluster_id, c.name AS cluster, n.id AS node_id, n.name AS node, n.role,
                (n.usage->>'cpuPercent')::float / 100 AS cpu,
                (n.usage->>'memoryMiB')::float * 1048576 AS mem
           FROM nodes n JOIN clusters c ON c.id = n.cluster_id
          WHERE n.usage IS NOT NULL AND n.delete_requested_at IS NULL`,
      );
    } catch {
      return; // database unavailable: /readyz says so
    }
    for (const gauge of Object.values(g)) gauge.reset();
    const clusters = new Map<string, { labels: Record<string, string>; cpu: number[]; mem: number }>();
    for (const r of data) {
      const labels = {
        tenant_id: r.tenant_id,
        cluster_id: r.cluster_id,
        cluster: r.cluster,
        node_id: r.node_id,
        node: r.node,
        role: r.role,
      };
      if (r.cpu !== null) g.nodeCpu.set(labels, r.cpu);
      if (r.mem !== null) g.nodeMem.set(labels, r.mem);
      const c = clusters.get(r.cluster_id) ?? {
        labels: { tenant_id: r.tenant_id, cluster_id: r.cluster_id, cluster: r.cluster },
        cpu: [],
        mem: 0,
      };
      if (r.cpu !== null) c.cpu.push(r.cpu);
      c.mem += r.mem ?? 0;
      clusters.set(r.cluster_id, c);
    }
    for (const c of clusters.values()) {
      if (c.cpu.length) g.clusterCpu.set(c.labels, c.cpu.reduce((a, b) => a + b, 0) / c.cpu.length);
      g.clusterMem.set(c.labels, c.mem);
    }
  }
}
