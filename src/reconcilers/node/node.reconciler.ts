import { Injectable } from '@nestjs/common';
import { type EventRecord, EventsService } from '../../events/events.service.js';
import { HostLeases } from '../../hypervisor/host-leases.service.js';
import { JobQueue, type JobPayloads } from '../../jobs/job-types.js';
import { OnJob } from '../../jobs/on-job.decorator.js';
import type { NodePhase } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { PassContextRepository } from '../pass-context.repository.js';
import { type NodePhaseStep, NodeScope } from './node-scope.js';
import { DomainPhase } from './phases/domain.phase.js';
import { LeavePhase } from './phases/leave.phase.js';
import { NetworkPhase } from './phases/network.phase.js';
import { ProbePhase } from './phases/probe.phase.js';
import { SeedPhase } from './phases/seed.phase.js';
import { StoragePhase } from './phases/storage.phase.js';
import { TeardownPhase } from './phases/teardown.phase.js';

export { phaseFromGuest } from './phases/probe.phase.js';

/**
 * How long a cluster's pass waits for more of its nodes' news: nodes made together become ready
 * in the same round of passes, and one cluster pass then sees them all.
 */
export const CLUSTER_NUDGE_GATHER_MS = 100;

/** A booting node's passes that only probe its guest do a full pass at least this often. */
const ENSURE_EVERY_MS = 30000;

/**
 * Makes one node's VM real on its host, and tears it down. Runs on the host's queue, in the
 * worker holding that host. A pass builds its scope once, runs the phases of its path in order
 * (each observes before it acts, and may stop the pass or ask to be run again later), keeps the
 * shortest requeue, and writes the node's status once at the end, as a patch. Running a pass
 * again after a crash at any point finishes the work without doing anything twice.
 */
@Injectable()
export class NodeReconciler {
  private readonly provisionPath: NodePhaseStep[];
  private readonly probePath: NodePhaseStep[];
  private readonly deletePath: NodePhaseStep[];
  /**
   * When each node's full pass (network, storage, seed, domain) last completed in this worker.
   * Entries go when the node is Ready or gone, or when they are too old to matter.
   */
  private readonly ensuredAt = new Map<string, number>();

  constructor(
    private readonly nodes: NodesRepository,
    private readonly contexts: PassContextRepository,
    private readonly leases: HostLeases,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
    network: NetworkPhase,
    storage: StoragePhase,
    seed: SeedPhase,
    domain: DomainPhase,
    probe: ProbePhase,
    leave: LeavePhase,
    teardown: TeardownPhase,
  ) {
    this.provisionPath = [network, storage, seed, domain, probe];
    this.probePath = [probe];
    this.deletePath = [leave, teardown];
  }

  @OnJob('node.reconcile')
  async reconcile(payload: JobPayloads['node.reconcile']): Promise<{ phase: NodePhase | 'gone' | 'deleted' }> {
    // The node, its cluster, VPC and floating IP: one read for the whole pass.
    const context = await this.contexts.node(payload.nodeId);
    if (!context) return { phase: 'gone' };
    const { node, cluster } = context;
    const runtime = node.hostId ? this.leases.runtime(node.hostId) : undefined;
    if (!runtime?.backend) throw new Error(`host ${node.hostId} is not connected in this worker; will retry`);
    const scope = new NodeScope(node, cluster, runtime, runtime.backend);
    scope.vpc = context.vpc ?? undefined;
    scope.floatingIp = context.floatingIp;

    let path: NodePhaseStep[];
    if (!cluster || cluster.deletingAt || node.deleteRequestedAt) {
      this.forgetEnsured(node.id);
      scope.setPhase('Deleting', 'Deleting', 'removing the node');
      path = this.deletePath;
    } else if (this.mayOnlyProbe(scope) && (await scope.backend.domainState(scope.names.domain)) === 'running') {
      // While a started guest boots, this runs every KAAS_REQUEUE_MS to ask it how far it got:
      // such a pass only probes, as long as everything was ensured lately and the VM runs.
      path = this.probePath;
    } else {
      if (node.phase === 'Pending') scope.setPhase('Provisioning', 'Provisioning', 'creating volume, seed and VM');
      path = this.provisionPath;
    }

    let requeueAfterMs: number | undefined;
    try {
      for (const phase of path) {
        const result = await phase.run(scope);
        if (result.requeueAfterMs !== undefined)
          requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, result.requeueAfterMs);
        if (result.stop) break;
        if (phase.name === 'domain') this.ensuredAt.set(node.id, Date.now());
      }
    } finally {
      await this.writeStatus(scope);
    }
    if (scope.phase === 'Ready' || scope.removed) this.forgetEnsured(node.id);
    if (requeueAfterMs !== undefined && !scope.removed) {
      await this.jobs.enqueue(
        'node.reconcile',
        { nodeId: node.id },
        { hostId: node.hostId!, resourceKey: node.id, delayMs: requeueAfterMs },
      );
    }
    return { phase: scope.removed ? 'deleted' : scope.phase };
  }

  /** The pass's one status write with its events, then the cluster's next look. */
  private async writeStatus(scope: NodeScope): Promise<void> {
    const events: EventRecord[] = scope.events.map((e) => ({ target: scope.target, ...e }));
    if (scope.removed) await this.events.recordAll(events);
    else {
      await this.nodes.patchStatus(scope.node, scope.status, this.events.rows(events));
      this.events.logRecorded(events);
    }
    if (scope.nudgeCluster && scope.cluster)
      await this.jobs.enqueue(
        'cluster.reconcile',
        { clusterId: scope.node.clusterId },
        { resourceKey: scope.node.clusterId, gatherMs: CLUSTER_NUDGE_GATHER_MS },
      );
  }

  private mayOnlyProbe(scope: NodeScope): boolean {
    const { node } = scope;
    if (node.bootStartedAt === null || !['Booting', 'Joining'].includes(node.phase)) return false;
    const at = this.ensuredAt.get(node.id);
    return at !== undefined && Date.now() - at < ENSURE_EVERY_MS;
  }

  private forgetEnsured(nodeId: string): void {
    this.ensuredAt.delete(nodeId);
    if (this.ensuredAt.size > 10000) {
      const cutoff = Date.now() - ENSURE_EVERY_MS;
      for (const [id, at] of this.ensuredAt) if (at < cutoff) this.ensuredAt.delete(id);
    }
  }
}
