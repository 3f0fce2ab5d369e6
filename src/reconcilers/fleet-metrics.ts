import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { ClusterPhase } from '../clusters/cluster.entity.js';
import { Database } from '../common/database.js';
import type { HostState } from '../hypervisor/host.entity.js';
import type { NodePhase } from '../nodes/node.entity.js';
import { gaugesFilledTogether, MetricsService } from '../platform/metrics.service.js';

const CLUSTER_PHASES = Object.keys({
  Pending: 1,
  Provisioning: 1,
  Running: 1,
  Updating: 1,
  Degraded: 1,
  Deleting: 1,
  Failed: 1,
} satisfies Record<ClusterPhase, 1>);
const NODE_PHASES = Object.keys({
  Pending: 1,
  Provisioning: 1,
  Booting: 1,
  Joining: 1,
  Ready: 1,
  NotReady: 1,
  Deleting: 1,
  Failed: 1,
} satisfies Record<NodePhase, 1>);
const HOST_STATES = Object.keys({ Pending: 1, Ready: 1, Unreachable: 1 } satisfies Record<HostState, 1>);

type Name =
  'clusters' | 'nodes' | 'notRunningSince' | 'remediationBlockedSince' | 'hostState' | 'hostLastSeen' | 'hostDrained';

interface Figures {
  clusters: { phase: string; n: number }[];
  nodes: { phase: string; n: number }[];
  notRunning: { tenant_id: string; cluster_id: string; cluster: string; phase: string; since: number }[];
  blocked: { tenant_id: string; cluster_id: string; cluster: string; reason: string; since: number }[];
  hosts: { id: string; name: string; state: string; drained: boolean; last_seen: number | null }[];
}

/**
 * Clusters, nodes and hosts as the database has them, read when the API's /metrics is scraped
 * (the fleet registry: no worker runs these queries). Five small queries per scrape, whatever the
 * number of clusters: counts grouped by phase (one pass over each table), and per-cluster series
 * only for the clusters that need a look (not Running, remediation held back), which a healthy
 * fleet has few of. Times are Unix timestamps, as Prometheus keeps them: `time() - x` is the age.
 */
@Injectable()
export class FleetMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly db: Database,
  ) {}

  onModuleInit(): void {
    const cluster = ['tenant_id', 'cluster_id', 'cluster'];
    gaugesFilledTogether<Name>(
      this.metrics.fleetRegistry,
      {
        clusters: {
          name: 'kaas_clusters',
          help: 'Clusters per phase',
          labelNames: ['phase'],
        },
        nodes: {
          name: 'kaas_nodes',
          help: 'Nodes per phase',
          labelNames: ['phase'],
        },
        notRunningSince: {
          name: 'kaas_cluster_not_running_since_timestamp_seconds',
          help:
            'For each cluster not Running: since when (creation while Pending or Provisioning, the ' +
            'start of its deletion while Deleting, otherwise when its Ready condition turned False)',
          labelNames: [...cluster, 'phase'],
        },
        remediationBlockedSince: {
          name: 'kaas_cluster_remediation_blocked_since_timestamp_seconds',
          help:
            'For each cluster whose unhealthy nodes are not being replaced (RemediationAllowed False: ' +
            'TooManyUnhealthy or BackingOff): since when',
          labelNames: [...cluster, 'reason'],
        },
        hostState: {
          name: 'kaas_host_state',
          help: "A host's state as its worker last recorded it: 1 for the current state, 0 for the others",
          labelNames: ['host_id', 'host', 'state'],
        },
        hostLastSeen: {
          name: 'kaas_host_last_seen_timestamp_seconds',
          help: 'When the worker holding a host last finished a sweep of it (or last connected to it)',
          labelNames: ['host_id', 'host'],
        },
        hostDrained: {
          name: 'kaas_host_drained',
          help: 'Whether a host is drained by the operator (1) and takes no new nodes',
          labelNames: ['host_id', 'host'],
        },
      },
      (gauges) => this.fill(gauges),
    );
  }

  private async read(): Promise<Figures> {
    const q = <T>(sql: string) => this.db.manager.query(sql) as Promise<T>;
    const [clusters, nodes, notRunning, blocked, hosts] = await Promise.all([
      q<Figures['clusters']>(`SELECT phase, count(*)::int AS n FROM clusters GROUP BY phase`),
      q<Figures['nodes']>(`SELECT phase, count(*)::int AS n FROM nodes GROUP BY phase`),
      q<Figures['notRunning']>(
        `SELECT c.tenant_id, c.id AS cluster_id, c.name AS cluster, c.phase,
                extract(epoch FROM CASE
                  WHEN c.deleting_at IS NOT NULL THEN c.deleting_at
                  WHEN c.phase IN ('Pending', 'Provisioning') THEN c.created_at
                  ELSE coalesce(
                    (SELECT (e->>'lastTransitionTime')::timestamptz FROM jsonb_array_elements(c.conditions) e
                      WHERE e->>'type' = 'Ready' AND e->>'status' <> 'True' LIMIT 1),
                    c.updated_at)
                END)::float AS since
           FROM clusters c
          WHERE c.phase <> 'Running'`,
      ),
      q<Figures['blocked']>(
        `SELECT c.tenant_id, c.id AS cluster_id, c.name AS cluster, e->>'reason' AS reason,
                extract(epoch FROM (e->>'lastTransitionTime')::timestamptz)::float AS since
           FROM clusters c CROSS JOIN LATERAL jsonb_array_elements(c.conditions) e
          WHERE c.conditions @> '[{"type": "RemediationAllowed", "status": "False"}]'
            AND c.deleting_at IS NULL
            AND e->>'type' = 'RemediationAllowed'`,
      ),
      q<Figures['hosts']>(
        `SELECT id, name, state, drained, extract(epoch FROM last_seen_at)::float AS last_seen FROM hosts`,
      ),
    ]);
    return { clusters, nodes, notRunning, blocked, hosts };
  }

  private async fill(g: Record<Name, Gauge>): Promise<void> {
    let f: Figures;
    try {
      f = await this.read();
    } catch {
      return; // database unavailable: /readyz says so
    }
    for (const gauge of Object.values(g)) gauge.reset();
    const count = (rows: { phase: string; n: number }[], phase: string) => rows.find((r) => r.phase === phase)?.n ?? 0;
    for (const phase of new Set([...CLUSTER_PHASES, ...f.clusters.map((r) => r.phase)]))
      g.clusters.set({ phase }, count(f.clusters, phase));
    for (const phase of new Set([...NODE_PHASES, ...f.nodes.map((r) => r.phase)]))
      g.nodes.set({ phase }, count(f.nodes, phase));
    for (const r of f.notRunning)
      g.notRunningSince.set(
        { tenant_id: r.tenant_id, cluster_id: r.cluster_id, cluster: r.cluster, phase: r.phase },
        r.since,
      );
    for (const r of f.blocked)
      g.remediationBlockedSince.set(
        { tenant_id: r.tenant_id, cluster_id: r.cluster_id, cluster: r.cluster, reason: r.reason },
        r.since,
      );
    for (const h of f.hosts) {
      const host = { host_id: h.id, host: h.name };
      for (const state of new Set([...HOST_STATES, h.state]))
        g.hostState.set({ ...host, state }, state === h.state ? 1 : 0);
      g.hostDrained.set(host, h.drained ? 1 : 0);
      if (h.last_seen !== null) g.hostLastSeen.set(host, h.last_seen);
    }
  }
}
