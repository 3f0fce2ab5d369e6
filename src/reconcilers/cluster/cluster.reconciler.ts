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
import { type EventRecord, EventsService } from '../../events/events.service.js';
import { backendKindOf } from '../../hypervisor/backends/index.js';
import type { HostEntity } from '../../hypervisor/host.entity.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { JobQueue, type JobPayloads } from '../../jobs/job-types.js';
import { OnJob } from '../../jobs/on-job.decorator.js';
import { FloatingIpsService } from '../../networks/floating-ips.service.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { MetricsService } from '../../platform/metrics.service.js';
import { PassContextRepository } from '../pass-context.repository.js';
import { EndpointStep } from './endpoint.step.js';
import { NodeFactory, type NodeRequest } from './node-factory.js';
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
    private readonly contexts: PassContextRepository,
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
    // A cluster whose pass is already queued (its look back later included) gets no other.
    for (const clusterId of ids)
      await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId, ensureOnly: true });
    return { enqueued: ids.length };
  }

  @OnJob('cluster.reconcile')
  async reconcile(payload: JobPayloads['cluster.reconcile']): Promise<{ settled: boolean }> {
    // Before the read: a run asked for after it is not lost to this pass's look back later.
    const asked = await this.jobs.asks('cluster.reconcile', payload.clusterId);
    // The cluster with its nodes: one read for the whole pass.
    const context = await this.contexts.cluster(payload.clusterId);
    if (!context) return { settled: true };
    const { cluster } = context;
    let { nodes } = context;
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    if (!cluster.deletingAt && (await this.secrets.ensure(cluster)))
      await this.events.normal(target, 'CredentialsCreated', 'cluster CA, admin certificate and join token created');

    let conditions = cluster.conditions;
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

    if (plan.actions.some((a) => a.kind === 'finalize')) {
      await this.finalize(cluster);
      return { settled: true };
    }
    // Nodes this pass queues a pass of their own for, and nodes it removed outright.
    const queued = new Set<string>();
    const removed = new Set<string>();
    const deletes = plan.actions.flatMap((a) => (a.kind === 'delete' ? [a] : []));
    await this.requestRemovals(cluster, nodes, deletes, queued, removed);
    // Every node this pass makes, in one transaction (the factory queues their passes).
    const requests: NodeRequest[] = plan.actions.flatMap((a) =>
      a.kind === 'create' ? [{ pool: a.role === 'master' ? null : a.pool, replaces: a.replaces }] : [],
    );
    const created = await this.nodeFactory.createMany(cluster, requests);
    for (const n of created) queued.add(n.id);

    for (const c of plan.conditions) conditions = setCondition(conditions, c.type, c.status, c.reason, c.message);
    const was = cluster.phase;
    // This pass acted on the declared state as read: its generation is observed.
    const observed = cluster.generation;
    if (
      plan.phase !== was ||
      !sameConditions(conditions, cluster.conditions) ||
      cluster.observedGeneration !== observed
    ) {
      const told: EventRecord[] =
        plan.phase === was
          ? []
          : [
              {
                target,
                type: 'normal',
                reason: `Phase${plan.phase}`,
                message: `cluster is ${plan.phase} (was ${was})`,
              },
            ];
      if (
        !(await this.clusters.patchStatus(
          cluster,
          { phase: plan.phase, conditions, observedGeneration: observed },
          this.events.rows(told),
        ))
      ) {
        // Its status changed meanwhile (deleted, another pass): decide again on what it is now.
        await this.jobs.enqueue('cluster.reconcile', { clusterId: cluster.id }, { resourceKey: cluster.id });
        return { settled: false };
      }
      this.events.logRecorded(told);
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

    // The nodes as this pass leaves them (its own changes applied; nothing read again).
    const current = [...nodes.filter((n) => !removed.has(n.id)), ...created];
    if (!cluster.deletingAt) await this.endpoint.run(cluster, current, context);
    const byId = new Map(current.map((n) => [n.id, n]));
    for (const nodeId of new Set(plan.nodesToReconcile)) {
      const n = byId.get(nodeId);
      // A fenced node's host does not answer: its teardown is queued when the host returns.
      if (queued.has(nodeId) || !n?.hostId || (n.deleteRequestedAt && unreachable.ids.has(n.hostId))) continue;
      // Its own passes carry it on: this only makes sure it has one (its job may have been lost
      // with Redis), and hurries none that waits.
      await this.jobs.enqueue(
        'node.reconcile',
        { nodeId },
        { hostId: n.hostId, resourceKey: nodeId, ensureOnly: true },
      );
    }
    if (!plan.settled) {
      // Waiting for nodes to come up needs no polling: every node that becomes ready, fails or is
      // removed queues this cluster's reconcile. The look back later is a fallback then; it stays
      // short while this pass could not do all it meant to (a node not made, nodes removed), or
      // while nodes go away or are unhealthy (their timeouts run).
      const waitingOnly =
        deletes.length === 0 &&
        created.length === requests.length &&
        !current.some((n) => n.deleteRequestedAt || n.unhealthySince || n.phase === 'NotReady' || n.phase === 'Failed');
      await this.jobs.enqueue(
        'cluster.reconcile',
        { clusterId: cluster.id },
        { resourceKey: cluster.id, delayMs: this.config.requeueMs * (waitingOnly ? 10 : 2), askedBefore: asked },
      );
    }
    return { settled: plan.settled };
  }

  /**
   * Marks the nodes the plan removes (in one statement, their events in another) and queues
   * their teardown; a node that never got a host has nothing to tear down and goes at once.
   * `nodes` is updated in place.
   */
  private async requestRemovals(
    cluster: ClusterEntity,
    nodes: NodeEntity[],
    deletes: { nodeId: string; reason: string }[],
    queued: Set<string>,
    removed: Set<string>,
  ): Promise<void> {
    if (deletes.length === 0) return;
    const at = new Date();
    await this.nodes.requestDeletion(
      deletes.map((a) => ({ id: a.nodeId, reason: a.reason })),
      at,
    );
    const byId = new Map(nodes.map((n) => [n.id, n]));
    await this.events.recordAll(
      deletes.map((a) => {
        const node = byId.get(a.nodeId)!;
        return {
          target: { tenantId: cluster.tenantId, clusterId: cluster.id, nodeId: node.id },
          type: 'normal' as const,
          reason: 'NodeRemoving',
          message: `removing ${node.role} ${node.name}: ${a.reason}`,
        };
      }),
    );
    for (const a of deletes) {
      const node = byId.get(a.nodeId)!;
      node.deleteRequestedAt = at;
      node.deleteReason = a.reason;
      if (node.hostId) {
        await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId: node.hostId, resourceKey: node.id });
        queued.add(node.id);
      } else {
        await this.nodes.remove(this.db.manager, node.id);
        removed.add(node.id);
      }
    }
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
