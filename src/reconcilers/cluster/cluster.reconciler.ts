import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Histogram } from 'prom-client';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import { type PlanNode, planCluster } from '../../clusters/cluster-plan.js';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { sameConditions, setCondition } from '../../common/conditions.js';
import { Database } from '../../common/database.js';
import { APP_CONFIG, APP_LOGGER } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import { ClusterSecretsStore } from '../../control-plane/cluster-secrets.store.js';
import { ControlPlaneLeaver } from '../../control-plane/control-plane-leaver.service.js';
import { EventsRepository } from '../../events/events.repository.js';
import { EventsService } from '../../events/events.service.js';
import { backendKindOf } from '../../hypervisor/backends/index.js';
import type { HostEntity } from '../../hypervisor/host.entity.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { JobQueue, type JobPayloads } from '../../jobs/job-types.js';
import { OnJob } from '../../jobs/on-job.decorator.js';
import { FloatingIpsService } from '../../networks/floating-ips.service.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { MetricsService } from '../../platform/metrics.service.js';
import { EndpointStep } from './endpoint.step.js';
import { NodeFactory } from './node-factory.js';
import { RemediationStep } from './remediation.step.js';

/** A node's certificate is renewed (the node replaced) once it ends within this many days. */
export const CERTIFICATE_RENEW_DAYS = 30;

/**
 * Whether a node must be replaced to bring it to what the cluster declares: another version of
 * the bundle, certificates from before a rotation, or a certificate that ends within 30 days.
 */
export function isOutdated(
  n: Pick<NodeEntity, 'version' | 'certificatesGeneration' | 'certificateExpiresAt'>,
  cluster: Pick<ClusterEntity, 'version' | 'certificatesGeneration'>,
  now = Date.now(),
): boolean {
  return (
    n.version !== cluster.version ||
    n.certificatesGeneration < cluster.certificatesGeneration ||
    (n.certificateExpiresAt !== null && n.certificateExpiresAt.getTime() < now + CERTIFICATE_RENEW_DAYS * 86400000)
  );
}

export function toPlanNode(
  n: NodeEntity,
  unreachableHosts: ReadonlySet<string> = new Set(),
  cluster?: Pick<ClusterEntity, 'version' | 'certificatesGeneration'>,
): PlanNode {
  return {
    outdated: cluster !== undefined && isOutdated(n, cluster),
    fenced: n.deleteRequestedAt !== null && n.hostId !== null && unreachableHosts.has(n.hostId),
    id: n.id,
    role: n.role,
    pool: n.pool,
    ready: n.phase === 'Ready',
    provisioned: ['Booting', 'Joining', 'Ready', 'NotReady'].includes(n.phase),
    unhealthy: n.unhealthySince !== null,
    deleting: n.deleteRequestedAt !== null,
    replaceRequested: n.replaceRequestedAt !== null,
    replacesNodeId: n.replacesNodeId,
    createdAt: n.createdAt.getTime(),
    joining: n.readyAt === null && n.replacesNodeId === null,
  };
}

/**
 * One pass over one cluster: observe its nodes, decide (planCluster), act on the database and
 * hand VM work to the node reconcilers on the hosts' queues. Touches no hypervisor itself, so it
 * runs in any worker. Its phase and conditions are written once, at the end, and only if nothing
 * changed the cluster's status since the pass read it; otherwise the pass runs again at once.
 */
@Injectable()
export class ClusterReconciler {
  private readonly timeToRunning: Histogram;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly hosts: HostsRepository,
    private readonly floatingIps: FloatingIpsService,
    private readonly events: EventsService,
    private readonly eventsRepo: EventsRepository,
    private readonly jobs: JobQueue,
    private readonly secrets: ClusterSecretsStore,
    private readonly leaver: ControlPlaneLeaver,
    private readonly remediation: RemediationStep,
    private readonly endpoint: EndpointStep,
    private readonly nodeFactory: NodeFactory,
    metrics: MetricsService,
  ) {
    this.timeToRunning = new Histogram({
      name: 'kaas_cluster_time_to_running_seconds',
      help: "Time from a cluster's creation to its first Running phase",
      buckets: [2.5, 5, 10, 20, 30, 60, 90, 120, 180, 300, 450, 600, 900, 1800, 3600],
      registers: [metrics.registry],
    });
  }

  @OnJob('clusters.resync')
  async resync(): Promise<{ enqueued: number }> {
    const ids = await this.clusters.unsettledIds();
    for (const clusterId of ids)
      await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    return { enqueued: ids.length };
  }

  @OnJob('cluster.reconcile')
  async reconcile(payload: JobPayloads['cluster.reconcile']): Promise<{ settled: boolean }> {
    const cluster = await this.clusters.findById(payload.clusterId);
    if (!cluster) return { settled: true };
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    if (!cluster.deletingAt && (await this.secrets.ensure(cluster)))
      await this.events.normal(target, 'CredentialsCreated', 'cluster CA, admin certificate and join token created');

    let conditions = cluster.conditions;
    let nodes = await this.nodes.forCluster(cluster.id);
    if (!cluster.deletingAt) {
      const remediated = await this.remediation.run(cluster, nodes, conditions);
      conditions = remediated.conditions;
      if (remediated.replaced) nodes = await this.nodes.forCluster(cluster.id);
    }
    const unreachable = await this.unreachableHostsOf(nodes);
    if (!cluster.deletingAt) await this.leaveForFenced(cluster, nodes, unreachable);
    const planNodes = nodes.map((n) => toPlanNode(n, unreachable.ids, cluster));
    const liveCount = planNodes.filter(
      (n) => !n.deleting && !(n.replacesNodeId && planNodes.some((o) => o.id === n.replacesNodeId && !o.deleting)),
    ).length;
    const plan = planCluster({
      masters: cluster.masters,
      pools: cluster.workerPools.map((p) => ({ name: p.name, count: p.count })),
      maxSurge: cluster.settings.upgrade?.maxSurge ?? 1,
      deleting: cluster.deletingAt !== null,
      nodes: planNodes,
      wasRunning: ['Running', 'Updating', 'Degraded'].includes(cluster.phase),
      scaling: liveCount !== cluster.masters + cluster.workers,
    });

    for (const action of plan.actions) {
      if (action.kind === 'finalize') {
        await this.finalize(cluster);
        return { settled: true };
      }
      if (action.kind === 'delete') {
        const node = nodes.find((n) => n.id === action.nodeId)!;
        await this.nodes.update(node.id, { deleteRequestedAt: new Date(), deleteReason: action.reason });
        await this.events.normal(
          { ...target, nodeId: node.id },
          'NodeRemoving',
          `removing ${node.role} ${node.name}: ${action.reason}`,
        );
        if (node.hostId)
          await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId: node.hostId, resourceKey: node.id });
        else await this.nodes.remove(this.db.manager, node.id);
      } else {
        const created = await this.nodeFactory.create(
          cluster,
          action.role === 'master' ? null : action.pool,
          action.replaces,
        );
        if (created) plan.nodesToReconcile.push(created.id);
      }
    }

    for (const c of plan.conditions) conditions = setCondition(conditions, c.type, c.status, c.reason, c.message);
    const was = cluster.phase;
    // This pass acted on the declared state as read: its generation is observed.
    const observed = cluster.generation;
    if (
      plan.phase !== was ||
      !sameConditions(conditions, cluster.conditions) ||
      cluster.observedGeneration !== observed
    ) {
      if (
        !(await this.clusters.patchStatus(cluster, { phase: plan.phase, conditions, observedGeneration: observed }))
      ) {
        // Its status changed meanwhile (deleted, another pass): decide again on what it is now.
        await this.jobs.enqueue('cluster.reconcile', { clusterId: cluster.id }, { resourceKey: cluster.id });
        return { settled: false };
      }
      if (plan.phase !== was)
        await this.events.normal(target, `Phase${plan.phase}`, `cluster is ${plan.phase} (was ${was})`);
      // Pending and Provisioning come only before a cluster first runs; the status write above
      // succeeds once per transition, so each cluster is counted once.
      if (plan.phase === 'Running' && (was === 'Pending' || was === 'Provisioning'))
        this.timeToRunning.observe((Date.now() - cluster.createdAt.getTime()) / 1000);
    }
    if (plan.phase === 'Running' && cluster.restoreBackupId && !cluster.restoredAt) {
      // Restored: its next masters join the running control plane; none starts from the backup again.
      const [, updated] = (await this.db.manager.query(
        `UPDATE clusters SET restored_at = now() WHERE id = $1 AND restored_at IS NULL`,
        [cluster.id],
      )) as [unknown, number];
      if (updated > 0)
        await this.events.normal(target, 'Restored', `the control plane runs from backup ${cluster.restoreBackupId}`);
    }

    const current = await this.nodes.forCluster(cluster.id);
    if (!cluster.deletingAt) await this.endpoint.run(cluster, current);
    const byId = new Map(current.map((n) => [n.id, n]));
    for (const nodeId of new Set(plan.nodesToReconcile)) {
      const n = byId.get(nodeId);
      // A fenced node's host does not answer: its teardown is queued when the host returns.
      if (n?.hostId && !(n.deleteRequestedAt && unreachable.ids.has(n.hostId)))
        await this.jobs.enqueue('node.reconcile', { nodeId }, { hostId: n.hostId, resourceKey: nodeId });
    }
    if (!plan.settled) {
      // Waiting for nodes to come up needs no polling: every phase a node enters, and every node
      // removed, queues this cluster's reconcile. The look back later is a fallback then; it stays
      // short while this pass acted, or while nodes go away or are unhealthy (their timeouts run).
      const waitingOnly =
        plan.actions.length === 0 &&
        !current.some((n) => n.deleteRequestedAt || n.unhealthySince || n.phase === 'NotReady' || n.phase === 'Failed');
      await this.jobs.enqueue(
        'cluster.reconcile',
        { clusterId: cluster.id },
        { resourceKey: cluster.id, delayMs: this.config.requeueMs * (waitingOnly ? 10 : 2) },
      );
    }
    return { settled: plan.settled };
  }

  /** Hosts of this cluster's nodes being removed that do not answer (their nodes are fenced). */
  private async unreachableHostsOf(nodes: NodeEntity[]): Promise<{ ids: Set<string>; hosts: HostEntity[] }> {
    const ids = new Set(nodes.filter((n) => n.deleteRequestedAt && n.hostId).map((n) => n.hostId!));
    if (ids.size === 0) return { ids: new Set(), hosts: [] };
    const hosts = (await this.hosts.list()).filter((h) => ids.has(h.id) && h.state === 'Unreachable');
    return { ids: new Set(hosts.map((h) => h.id)), hosts };
  }

  /**
   * A master removed while its host is away cannot leave the control plane from its host's
   * queue, so it leaves from here (through the other masters): etcd membership shrinks to the
   * masters that really run.
   */
  private async leaveForFenced(
    cluster: ClusterEntity,
    nodes: NodeEntity[],
    unreachable: { ids: Set<string>; hosts: HostEntity[] },
  ): Promise<void> {
    for (const n of nodes) {
      if (!n.deleteRequestedAt || !n.hostId || !unreachable.ids.has(n.hostId) || ControlPlaneLeaver.hasLeft(n))
        continue;
      const host = unreachable.hosts.find((h) => h.id === n.hostId)!;
      await this.leaver.leave(n, cluster, backendKindOf(host));
    }
  }

  /** Everything is gone from the hosts: release what the cluster held and forget it. */
  private async finalize(cluster: ClusterEntity): Promise<void> {
    await this.endpoint.remove(cluster.id);
    await this.db.transaction(async (tx) => {
      if (cluster.floatingIpId) await this.floatingIps.disassociate(tx, cluster.tenantId, cluster.floatingIpId);
      await this.eventsRepo.removeForCluster(tx, cluster.id);
      await this.clusters.remove(tx, cluster.id);
    });
    this.secrets.forget(cluster.id);
    this.logger.info({ clusterId: cluster.id, name: cluster.name }, 'cluster deleted');
  }
}
