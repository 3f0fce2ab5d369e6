import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Database } from '../common/database.js';
import { MetricsService } from '../platform/metrics.service.js';

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
 * CPU and memory use per node and per cluster in /metrics, read at scrape time from what the
 * health sweeps sampled (libvirt domain statistics), so any API process can serve them.
 * Cluster CPU is the average over its sampled nodes, memory the sum (as in GET /v1/clusters/:id).
 */
@Injectable()
export class UsageMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly db: Database,
  ) {}

  onModuleInit(): void {
    // prom-client collects each gauge in turn; the first collect fills all four from one query.
    let filling: Promise<void> | undefined;
    const collect = (): Promise<void> =>
      (filling ??= this.fill(gauges).finally(() => setTimeout(() => (filling = undefined), 0)));
    const registers = [this.metrics.registry];
    const nodeLabels = ['tenant_id', 'cluster_id', 'cluster', 'node_id', 'node', 'role'];
    const clusterLabels = ['tenant_id', 'cluster_id', 'cluster'];
    const gauges: Record<'nodeCpu' | 'nodeMem' | 'clusterCpu' | 'clusterMem', Gauge> = {
      nodeCpu: new Gauge({
        name: 'kaas_node_cpu_percent',
        help: "A node's CPU use, percent of its vCPUs, at the last health sweep",
        labelNames: nodeLabels,
        registers,
        collect,
      }),
      nodeMem: new Gauge({
        name: 'kaas_node_memory_mib',
        help: "A node's memory, MiB, at the last health sweep",
        labelNames: nodeLabels,
        registers,
        collect,
      }),
      clusterCpu: new Gauge({
        name: 'kaas_cluster_cpu_percent',
        help: "Average CPU use of a cluster's nodes, percent",
        labelNames: clusterLabels,
        registers,
        collect,
      }),
      clusterMem: new Gauge({
        name: 'kaas_cluster_memory_mib',
        help: "Memory of a cluster's nodes, MiB",
        labelNames: clusterLabels,
        registers,
        collect,
      }),
    };
  }

  private async fill(g: Record<'nodeCpu' | 'nodeMem' | 'clusterCpu' | 'clusterMem', Gauge>): Promise<void> {
    let data: UsageRow[];
    try {
      data = await this.db.manager.query(
        `SELECT n.tenant_id, n.cluster_id, c.name AS cluster, n.id AS node_id, n.name AS node, n.role,
                (n.usage->>'cpuPercent')::float AS cpu, (n.usage->>'memoryMiB')::float AS mem
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
