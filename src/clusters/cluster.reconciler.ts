import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { setCondition } from '../common/conditions.js';
import { Database } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { encryptSecret } from '../common/secrets.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import { HostsRepository } from '../hypervisor/hosts.repository.js';
import { type HostSnapshot, placeNode } from '../hypervisor/placement.js';
import { JobQueue, type JobPayloads } from '../jobs/job-types.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import { FloatingIpsService } from '../networks/floating-ips.service.js';
import { VpcsService } from '../networks/vpcs.service.js';
import type { NodeEntity } from '../nodes/node.entity.js';
import { ControlPlaneLeaver } from '../nodes/control-plane-leaver.service.js';
import { HEALTH_DEFAULTS, planRemediation } from '../nodes/health.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import type { ClusterEntity } from './cluster.entity.js';
import { type PlanNode, planCluster } from './cluster-plan.js';
import { createClusterSecrets } from './cluster-pki.js';
import { ClustersRepository } from './clusters.repository.js';
import { EventsService } from './events.service.js';

export function toPlanNode(n: NodeEntity, unreachableHosts: ReadonlySet<string> = new Set()): PlanNode {
  return {
    fenced: n.deleteRequestedAt !== null && n.hostId !== null && unreachableHosts.has(n.hostId),
    id: n.id,
    role: n.role,
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

function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${b[0].toString(16).padStart(2, '0')}:${b[1].toString(16).padStart(2, '0')}:${b[2].toString(16).padStart(2, '0')}`;
}

/**
 * One pass over one cluster: observe its nodes, decide (planCluster), act on the database and
 * hand VM work to the node reconcilers on the hosts' queues. Touches no hypervisor itself, so it
 * runs in any worker.
 */
@Injectable()
export class ClusterReconciler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly hosts: HostsRepository,
    private readonly vpcs: VpcsService,
    private readonly floatingIps: FloatingIpsService,
    private readonly floatingIpsRepo: FloatingIpsRepository,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
    private readonly leaver: ControlPlaneLeaver,
  ) {}

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
    if (!cluster.deletingAt) await this.ensureSecrets(cluster);

    let nodes = await this.nodes.forCluster(cluster.id);
    if (!cluster.deletingAt && (await this.remediate(cluster, nodes))) nodes = await this.nodes.forCluster(cluster.id);
    const unreachable = await this.unreachableHostsOf(nodes);
    if (!cluster.deletingAt) await this.leaveForFenced(cluster, nodes, unreachable);
    const planNodes = nodes.map((n) => toPlanNode(n, unreachable));
    const liveCount = planNodes.filter(
      (n) => !n.deleting && !(n.replacesNodeId && planNodes.some((o) => o.id === n.replacesNodeId && !o.deleting)),
    ).length;
    const plan = planCluster({
      masters: cluster.masters,
      workers: cluster.workers,
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
        const created = await this.createNode(cluster, action.role, action.replaces);
        if (created) plan.nodesToReconcile.push(created.id);
      }
    }

    let conditions = cluster.conditions;
    for (const c of plan.conditions) conditions = setCondition(conditions, c.type, c.status, c.reason, c.message);
    if (plan.phase !== cluster.phase) {
      await this.events.normal(target, `Phase${plan.phase}`, `cluster is ${plan.phase} (was ${cluster.phase})`);
    }
    if (plan.phase !== cluster.phase || JSON.stringify(conditions) !== JSON.stringify(cluster.conditions))
      await this.clusters.update(cluster.id, { phase: plan.phase, conditions });

    const current = await this.nodes.forCluster(cluster.id);
    if (!cluster.deletingAt) {
      const moved = await this.ensureFloatingHolder(cluster, current);
      plan.nodesToReconcile.push(...moved);
    }
    const byId = new Map(current.map((n) => [n.id, n]));
    for (const nodeId of new Set(plan.nodesToReconcile)) {
      const n = byId.get(nodeId);
      // A fenced node's host does not answer: its teardown is queued when the host returns.
      if (n?.hostId && !(n.deleteRequestedAt && unreachable.has(n.hostId)))
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

  /** Marks unhealthy nodes for replacement within the cluster's limits; true when it did. */
  /** Hosts of this cluster's nodes being removed that do not answer (their nodes are fenced). */
  private async unreachableHostsOf(nodes: NodeEntity[]): Promise<Set<string>> {
    const ids = new Set(nodes.filter((n) => n.deleteRequestedAt && n.hostId).map((n) => n.hostId!));
    if (ids.size === 0) return new Set();
    const hosts = await this.hosts.list();
    return new Set(hosts.filter((h) => ids.has(h.id) && h.state === 'Unreachable').map((h) => h.id));
  }

  /**
   * A master removed while its host is away cannot leave the control plane from its host's
   * queue, so it leaves from here (through the other masters): etcd membership shrinks to the
   * masters that really run.
   */
  private async leaveForFenced(cluster: ClusterEntity, nodes: NodeEntity[], unreachable: Set<string>): Promise<void> {
    for (const n of nodes) {
      if (!n.deleteRequestedAt || !n.hostId || !unreachable.has(n.hostId) || ControlPlaneLeaver.hasLeft(n)) continue;
      const host = await this.hosts.findById(n.hostId);
      await this.leaver.leave(n, cluster, host?.simulated ?? false);
    }
  }

  private async remediate(cluster: ClusterEntity, nodes: NodeEntity[]): Promise<boolean> {
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    const since = new Date(Date.now() - HEALTH_DEFAULTS.remediationWindowSeconds * 1000);
    const decision = planRemediation({
      nodes: nodes.map((n) => ({
        id: n.id,
        role: n.role,
        unhealthy: n.unhealthySince !== null,
        replaceRequested: n.replaceRequestedAt !== null,
        deleting: n.deleteRequestedAt !== null,
      })),
      maxUnhealthy: cluster.settings.maxUnhealthy ?? HEALTH_DEFAULTS.maxUnhealthy,
      paused: cluster.paused,
      recentRemediations: nodes.some((n) => n.unhealthySince && !n.replaceRequestedAt)
        ? await this.clusters.countEventsSince(cluster.id, 'RemediationStarted', since)
        : 0,
      maxRemediationsPerWindow: HEALTH_DEFAULTS.maxRemediationsPerWindow,
    });
    const previous = cluster.conditions.find((c) => c.type === 'RemediationAllowed');
    const allowed = decision.kind === 'replace' || decision.kind === 'none';
    const reason =
      decision.kind === 'short-circuit' ? 'TooManyUnhealthy' : decision.kind === 'backoff' ? 'BackingOff' : 'Allowed';
    if (previous?.reason !== reason) {
      const message =
        decision.kind === 'short-circuit'
          ? `${decision.unhealthy} nodes unhealthy, more than the ${decision.allowed} allowed: likely a network or host problem, not replacing`
          : decision.kind === 'backoff'
            ? `${decision.recent} remediations in the last ${HEALTH_DEFAULTS.remediationWindowSeconds / 60} minutes: backing off`
            : cluster.paused
              ? 'remediation paused'
              : 'unhealthy nodes are replaced';
      cluster.conditions = setCondition(
        cluster.conditions,
        'RemediationAllowed',
        allowed ? 'True' : 'False',
        reason,
        message,
      );
      if (!allowed)
        await this.events.warning(
          target,
          reason === 'TooManyUnhealthy' ? 'RemediationShortCircuited' : 'RemediationBackoff',
          message,
        );
    }
    if (decision.kind !== 'replace') return false;
    for (const id of decision.nodeIds) {
      const node = nodes.find((n) => n.id === id)!;
      await this.nodes.update(id, { replaceRequestedAt: new Date() });
      await this.events.warning(
        { ...target, nodeId: id },
        'RemediationStarted',
        `replacing unhealthy ${node.role} ${node.name}`,
      );
    }
    return true;
  }

  /**
   * The floating IP reaches one master at a time: the current holder while it is ready, else the
   * first ready master. Returns the nodes whose DHCP entries must change.
   */
  private async ensureFloatingHolder(cluster: ClusterEntity, nodes: NodeEntity[]): Promise<string[]> {
    const fip = await this.floatingIpsRepo.findForTenant(cluster.tenantId, cluster.floatingIpId);
    if (!fip) return [];
    const usable = (n: NodeEntity) =>
      n.role === 'master' && n.phase === 'Ready' && !n.deleteRequestedAt && !n.replaceRequestedAt;
    // The holder keeps the address through a passing NotReady (an etcd election, a slow probe):
    // a move costs the tenant up to one DHCP lease (2 minutes) of an unreachable endpoint, so it
    // moves only when the holder is going away or has been unhealthy past its timeout.
    const keeps = (n: NodeEntity) =>
      n.role === 'master' &&
      (n.phase === 'Ready' || n.phase === 'NotReady') &&
      !n.deleteRequestedAt &&
      !n.replaceRequestedAt &&
      n.unhealthySince === null;
    const holder = nodes.find((n) => n.id === fip.holderNodeId);
    if (holder && keeps(holder)) return [];
    const next = nodes.filter(usable).sort((a, b) => a.ordinal - b.ordinal)[0];
    if (!next && !holder) return [];
    await this.floatingIpsRepo.setHolder(fip.id, next?.id ?? null);
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: cluster.id, nodeId: next?.id ?? null },
      'FloatingIpMoved',
      next
        ? `floating IP ${fip.address} moves to ${next.name}`
        : `floating IP ${fip.address} has no ready master to go to`,
    );
    return [next?.id, holder?.id].filter((x): x is string => x !== undefined);
  }

  /** Clusters whose secrets this worker has seen stored: they never change once made. */
  private readonly withSecrets = new Set<string>();

  private async ensureSecrets(cluster: ClusterEntity): Promise<void> {
    if (this.withSecrets.has(cluster.id)) return;
    if (await this.clusters.secrets(cluster.id)) {
      this.rememberSecrets(cluster.id);
      return;
    }
    const secrets = await createClusterSecrets(cluster.name);
    await this.clusters.saveSecrets(
      undefined,
      cluster.id,
      encryptSecret(this.config.secretKey, JSON.stringify(secrets), cluster.id),
    );
    this.rememberSecrets(cluster.id);
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: cluster.id },
      'CredentialsCreated',
      'cluster CA, admin certificate and join token created',
    );
  }

  private rememberSecrets(clusterId: string): void {
    // Bounded: past this many, it starts over (a forgotten cluster costs one query to relearn).
    if (this.withSecrets.size >= 100000) this.withSecrets.clear();
    this.withSecrets.add(clusterId);
  }

  /** Places, addresses and records one new node, in one transaction. */
  private async createNode(
    cluster: ClusterEntity,
    role: 'master' | 'worker',
    replaces?: string,
  ): Promise<NodeEntity | undefined> {
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    try {
      const node = await this.db.transaction(async (tx) => {
        const locked = await this.clusters.lock(tx, cluster.id);
        if (!locked || locked.deletingAt) return undefined;
        // One transaction is one connection: its queries run one after another.
        const hosts = await this.hosts.list(tx);
        const allocations = await this.nodes.hostAllocations(tx);
        const spread = await this.nodes.clusterSpread(tx, cluster.id);
        const conflicting = await this.nodes.hostsWithOverlappingVpcs(tx, cluster.vpcId);
        const snapshot: HostSnapshot[] = hosts.map((h) => ({
          id: h.id,
          name: h.name,
          schedulable: h.state === 'Ready' && !h.drained && !conflicting.has(h.id),
          cpus: h.cpus,
          memoryMiB: h.memoryMiB,
          allocatedVcpus: allocations.get(h.id)?.vcpus ?? 0,
          allocatedMemoryMiB: allocations.get(h.id)?.memoryMiB ?? 0,
          clusterMasters: spread.get(h.id)?.masters ?? 0,
          clusterWorkers: spread.get(h.id)?.workers ?? 0,
        }));
        const placed = placeNode(
          snapshot,
          { vcpus: cluster.vcpus, memoryMiB: cluster.memoryMiB, role },
          {
            cpuOvercommit: this.config.cpuOvercommit,
            memoryOvercommit: this.config.memoryOvercommit,
          },
        );
        if (!placed.ok) throw DomainError.unprocessable(placed.reason);
        const ordinal = (await this.nodes.maxOrdinal(tx, cluster.id, role)) + 1;
        const name = `${cluster.name.slice(0, 40).replace(/-+$/, '')}-${role}-${ordinal}`;
        const inserted = await this.nodes.insert(tx, {
          clusterId: cluster.id,
          tenantId: cluster.tenantId,
          name,
          ordinal,
          role,
          hostId: placed.hostId,
          vcpus: cluster.vcpus,
          memoryMiB: cluster.memoryMiB,
          diskGiB: cluster.diskGiB,
          mac: randomMac(),
          replacesNodeId: replaces ?? null,
        });
        const address = await this.vpcs.allocateAddress(tx, cluster.tenantId, cluster.vpcId, {
          kind: 'node',
          id: inserted.id,
        });
        await this.nodes.update(inserted.id, { address }, tx);
        await tx.query(
          `INSERT INTO volumes (tenant_id, pool_id, name, capacity_gib, owner_kind, owner_id, host_id) VALUES ($1, $2, $3, $4, 'node', $5, $6)`,
          [
            cluster.tenantId,
            cluster.storagePoolId,
            `${inserted.id}.qcow2`,
            cluster.diskGiB,
            inserted.id,
            placed.hostId,
          ],
        );
        return { ...inserted, address };
      });
      if (!node) return undefined;
      await this.events.normal(
        { ...target, nodeId: node.id },
        'NodeCreated',
        `${role} ${node.name} placed on host ${node.hostId} with address ${node.address}${replaces ? ` (replaces ${replaces})` : ''}`,
      );
      await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId: node.hostId!, resourceKey: node.id });
      return node;
    } catch (err) {
      if (err instanceof DomainError) {
        await this.events.warning(target, 'NodeNotCreated', `cannot create a ${role}: ${err.message}`);
        return undefined;
      }
      throw err;
    }
  }

  /** Everything is gone from the hosts: release what the cluster held and forget it. */
  private async finalize(cluster: ClusterEntity): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.floatingIps.disassociate(tx, cluster.tenantId, cluster.floatingIpId);
      await this.clusters.remove(tx, cluster.id);
    });
    this.withSecrets.delete(cluster.id);
    this.logger.info({ clusterId: cluster.id, name: cluster.name }, 'cluster deleted');
  }
}
