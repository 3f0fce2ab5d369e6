import { Injectable } from '@nestjs/common';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { EventsService } from '../../events/events.service.js';
import type { DomainStats, HostBackend, ProbeResult, VmState } from '../../hypervisor/backends/index.js';
import { libvirtNames } from '../../hypervisor/xml/names.js';
import { JobQueue } from '../../jobs/job-types.js';
import { assessNode, HEALTH_DEFAULTS } from '../../nodes/health.js';
import type { NodeEntity, NodeUsage } from '../../nodes/node.entity.js';
import type { NodeStatusPatch } from '../../nodes/node-status.js';
import { statusColumns } from '../../nodes/node-status.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';

/** How many nodes of one host are looked at side by side. */
const PARALLEL = 32;

/** Runs fn over items with at most `limit` running at once. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

/** CPU use since the previous sample, as a share of the node's vCPUs. */
export function usageOf(node: NodeEntity, stats: DomainStats, now: number): NodeUsage {
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

export interface NodeObservation {
  now: number;
  vmState: VmState;
  probe: ProbeResult | undefined;
  startupTimeoutSeconds: number;
  unhealthyTimeoutSeconds: number;
}

export interface HealthVerdict {
  unhealthy: boolean;
  heartbeat: boolean;
  /** The status change health asks for (heartbeat and usage not included). */
  patch: NodeStatusPatch;
  events: { type: 'normal' | 'warning'; reason: string; message: string }[];
  /** The cluster's plan turns on this change (phase, unhealthy mark). */
  touchesCluster: boolean;
}

/**
 * What one look at a node's VM and guest means for its status, computed from the node as it is
 * now (Cluster API MachineHealthCheck semantics, see nodes/health.ts).
 */
export function healthVerdict(node: NodeEntity, o: NodeObservation): HealthVerdict {
  const health = assessNode({
    now: o.now,
    vmState: o.vmState,
    probe: o.probe ? { answered: o.probe.answered, ready: o.probe.answered && o.probe.status.ready } : undefined,
    bootStartedAt: node.bootStartedAt!.getTime(),
    readyAt: node.readyAt?.getTime() ?? null,
    failingSince: node.failingSince?.getTime() ?? null,
    startupTimeoutSeconds: o.startupTimeoutSeconds,
    unhealthyTimeoutSeconds: o.unhealthyTimeoutSeconds,
  });
  const patch: NodeStatusPatch = {
    failingSince: health.failingSince === null ? null : new Date(health.failingSince),
    conditions: [
      {
        type: 'NodeHealthy',
        status: health.unhealthy ? 'False' : 'True',
        reason: health.reason,
        message: health.unhealthy ? `unhealthy: ${health.reason}` : health.reason,
      },
    ],
  };
  const events: HealthVerdict['events'] = [];
  let touchesCluster = false;
  if (health.unhealthy && !node.unhealthySince) {
    patch.unhealthySince = new Date(o.now);
    touchesCluster = true;
    events.push({ type: 'warning', reason: 'NodeUnhealthy', message: `${node.name} is unhealthy: ${health.reason}` });
  } else if (!health.unhealthy && node.unhealthySince && health.reason === 'Ready') {
    patch.unhealthySince = null;
    touchesCluster = true;
  }
  const ready = health.reason === 'Ready';
  const phase =
    node.phase === 'Ready' && !ready ? 'NotReady' : node.phase === 'NotReady' && ready ? 'Ready' : undefined;
  if (phase) {
    patch.phase = phase;
    patch.conditions!.push({
      type: 'Ready',
      status: phase === 'Ready' ? 'True' : 'False',
      reason: health.reason,
      message: health.reason,
    });
    touchesCluster = true;
    events.push({
      type: phase === 'Ready' ? 'normal' : 'warning',
      reason: `Node${phase}`,
      message: `${node.name}: ${health.reason}`,
    });
  }
  return { unhealthy: health.unhealthy, heartbeat: health.heartbeat, patch, events, touchesCluster };
}

export interface NodeHealthReport {
  nodes: number;
  unhealthy: number;
  recreated: number;
  touchedClusters: Set<string>;
}

/**
 * The health part of a host's sweep: VM state and guest probe for every started node, its
 * health conditions, heartbeat and usage. A missing VM is handed to the node's reconcile, which
 * makes it again.
 */
@Injectable()
export class NodeHealthStep {
  constructor(
    private readonly nodes: NodesRepository,
    private readonly clusters: ClustersRepository,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  async run(hostId: string, backend: HostBackend, nodes: NodeEntity[]): Promise<NodeHealthReport> {
    const report: NodeHealthReport = { nodes: 0, unhealthy: 0, recreated: 0, touchedClusters: new Set() };
    const settingsByCluster = await this.clusters.settingsOf([...new Set(nodes.map((n) => n.clusterId))]);
    const heartbeats: { id: string; at: Date; usage: NodeUsage | null }[] = [];
    const now = Date.now();
    await mapLimit(
      nodes.filter((n) => !n.deleteRequestedAt && n.bootStartedAt !== null),
      PARALLEL,
      async (node) => {
        report.nodes++;
        const settings = settingsByCluster.get(node.clusterId) ?? {};
        const domain = libvirtNames.domain(node.id);
        const stats = await backend.domainStats(domain);
        if (!stats) {
          // Deleted behind the platform's back: the node reconciler recreates it.
          report.recreated++;
          await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId, resourceKey: node.id });
          return;
        }
        const observation: NodeObservation = {
          now,
          vmState: stats.state,
          probe:
            stats.state === 'running'
              ? await backend.probeGuest({ domainName: domain, address: node.address })
              : undefined,
          startupTimeoutSeconds: settings.nodeStartupTimeoutSeconds ?? HEALTH_DEFAULTS.nodeStartupTimeoutSeconds,
          unhealthyTimeoutSeconds: settings.unhealthyTimeoutSeconds ?? HEALTH_DEFAULTS.unhealthyTimeoutSeconds,
        };
        const first = healthVerdict(node, observation);
        if (first.unhealthy) report.unhealthy++;
        const usage = usageOf(node, stats, now);
        if (Object.keys(statusColumns(node, first.patch)).length === 0) {
          // The common case, a healthy node: written in one statement for the whole host below.
          heartbeats.push({
            id: node.id,
            at: first.heartbeat ? new Date(now) : (node.lastHeartbeatAt ?? new Date(0)),
            usage,
          });
          return;
        }
        // Computed again on the node as it is when written, should another writer come first.
        let verdict = first;
        const written = await this.nodes.patchStatus(node, (current) => {
          if (current.deleteRequestedAt) return null;
          verdict = current === node ? first : healthVerdict(current, observation);
          return {
            ...verdict.patch,
            usage,
            ...(verdict.heartbeat ? { lastHeartbeatAt: new Date(now) } : {}),
          };
        });
        if (!written) return;
        for (const e of verdict.events)
          await this.events[e.type](
            { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
            e.reason,
            e.message,
          );
        if (verdict.touchesCluster) report.touchedClusters.add(node.clusterId);
      },
    );
    await this.nodes.recordHeartbeats(heartbeats);
    return report;
  }
}
