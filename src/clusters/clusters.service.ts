import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, isUniqueViolation, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { IdempotencyEffects } from '../common/idempotency-effects.js';
import { CURSOR_SHAPE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import { decryptSecret } from '../common/secrets.js';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import { HostsRepository } from '../hypervisor/hosts.repository.js';
import { HostsService } from '../hypervisor/hosts.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import { FloatingIpsService } from '../networks/floating-ips.service.js';
import { VpcsRepository } from '../networks/vpcs.repository.js';
import { VpcsService } from '../networks/vpcs.service.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { StoragePoolsRepository } from '../storage-pools/storage-pools.repository.js';
import { StoragePoolsService } from '../storage-pools/storage-pools.service.js';
import { QuotaService } from '../tenants/quota.service.js';
import { BundlesService } from './bundles.service.js';
import type { ClusterEntity, ClusterSettings } from './cluster.entity.js';
import { type ClusterSecrets, kubeconfigYaml } from './cluster-pki.js';
import type { ClusterView } from './clusters.repository.js';
import {
  type ClusterResponse,
  type CreateClusterRequest,
  type EventResponse,
  type NodeResponse,
  type PatchClusterRequest,
  toClusterResponse,
  toEventResponse,
  toNodeResponse,
} from './clusters.dto.js';
import { ClustersRepository } from './clusters.repository.js';
import { EventsService } from './events.service.js';

function checkSettings(s: ClusterSettings | undefined): void {
  if (s?.maxUnhealthy !== undefined && typeof s.maxUnhealthy === 'number') {
    if (!Number.isInteger(s.maxUnhealthy) || s.maxUnhealthy < 0) {
      throw DomainError.validation(
        'settings.maxUnhealthy',
        'must be a whole number of nodes or a percentage like "40%"',
      );
    }
  }
  if (s?.autoscale && s.autoscale.minWorkers > s.autoscale.maxWorkers) {
    throw DomainError.validation('settings.autoscale.minWorkers', 'must not exceed maxWorkers');
  }
}

/** The API side of clusters: validate, reserve, persist the desired state, enqueue. No VM work. */
@Injectable()
export class ClustersService implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly quotas: QuotaService,
    private readonly bundles: BundlesService,
    private readonly vpcs: VpcsRepository,
    private readonly pools: StoragePoolsRepository,
    private readonly floatingIps: FloatingIpsService,
    private readonly floatingIpsRepo: FloatingIpsRepository,
    private readonly hostsRepo: HostsRepository,
    private readonly hosts: HostsService,
    private readonly vpcsService: VpcsService,
    private readonly jobs: JobQueue,
    private readonly events: EventsService,
    private readonly poolsService: StoragePoolsService,
    private readonly idempotency: IdempotencyEffects,
  ) {}

  onModuleInit(): void {
    this.quotas.registerUsageSource(async (tx, tenantId) => {
      const u = await this.clusters.declaredUsage(tenantId, tx);
      return { maxClusters: u.clusters, maxNodes: u.nodes, maxVcpus: u.vcpus, maxMemoryMiB: u.memoryMiB };
    });
    this.hosts.setAllocationSource({ allocations: (tx) => this.nodes.hostAllocations(tx) });
    this.vpcsService.registerInUseCheck((tx, vpcId) => this.clusters.usesVpc(tx, vpcId));
    this.poolsService.registerInUseCheck((tx, poolId) => this.clusters.usesPool(tx, poolId));
  }

  private async checkNodeFits(vcpus: number, memoryMiB: number): Promise<void> {
    const hosts = (await this.hostsRepo.list()).filter((h) => !h.drained);
    if (hosts.length === 0)
      throw DomainError.unprocessable('no hypervisor host is registered; ask the operator to add one');
    const maxCpus = Math.max(...hosts.map((h) => h.cpus * this.config.cpuOvercommit));
    const maxMemory = Math.max(...hosts.map((h) => h.memoryMiB * this.config.memoryOvercommit));
    if (vcpus > maxCpus)
      throw DomainError.validation(
        'nodeSpec.vcpus',
        `no host can run a node with ${vcpus} vCPUs (largest: ${maxCpus})`,
      );
    if (memoryMiB > maxMemory)
      throw DomainError.validation(
        'nodeSpec.memoryMiB',
        `no host can run a node with ${memoryMiB} MiB (largest: ${maxMemory})`,
      );
  }

  /** Disk the pool has promised to clusters, including the one being checked. */
  private async checkPoolRoom(
    tx: Tx,
    poolId: string,
    extraGiB: number,
    poolName: string,
    capacityGiB: number,
  ): Promise<void> {
    const rows: { reserved: string }[] = await tx.query(
      `SELECT COALESCE(SUM((masters + workers) * disk_gib), 0) AS reserved FROM clusters WHERE storage_pool_id = $1 AND deleting_at IS NULL`,
      [poolId],
    );
    const reserved = Number(rows[0].reserved);
    if (reserved + extraGiB > capacityGiB) {
      throw DomainError.unprocessable(
        `storage pool "${poolName}" has ${capacityGiB - reserved} GiB free; the nodes need ${extraGiB} GiB`,
        { field: 'storagePoolId', capacityGiB, reservedGiB: reserved, requestedGiB: extraGiB },
      );
    }
  }

  async create(auth: AuthContext, body: CreateClusterRequest): Promise<ClusterResponse> {
    const tenantId = tenantOf(auth);
    checkSettings(body.settings);
    const { bundle, version } = this.bundles.resolve(body.controlPlane, body.version);
    await this.checkNodeFits(body.nodeSpec.vcpus, body.nodeSpec.memoryMiB);
    const n = body.masters + body.workers;
    let cluster: ClusterEntity;
    try {
      cluster = await this.db.transaction(async (tx) => {
        // The retry of a request whose cluster was made before its answer was lost: that one.
        const made = await this.idempotency.previous(tx, 'cluster');
        if (made) {
          const earlier = await this.clusters.findForTenant(tenantId, made, tx);
          if (!earlier) throw DomainError.conflict(`the cluster this request created (${made}) is gone since`);
          return earlier;
        }
        await this.quotas.reserve(tx, tenantId, {
          maxClusters: 1,
          maxNodes: n,
          maxVcpus: n * body.nodeSpec.vcpus,
          maxMemoryMiB: n * body.nodeSpec.memoryMiB,
        });
        const vpc = await this.vpcs.lockForTenant(tx, tenantId, body.vpcId);
        if (!vpc) throw DomainError.validation('vpcId', `VPC ${body.vpcId} not found`);
        const pool = await this.pools.lockForTenant(tx, tenantId, body.storagePoolId);
        if (!pool) throw DomainError.validation('storagePoolId', `storage pool ${body.storagePoolId} not found`);
        await this.checkPoolRoom(tx, pool.id, n * body.nodeSpec.diskGiB, pool.name, pool.capacityGiB);
        const image = await this.hostsRepo.defaultImage(tx);
        const created = await this.clusters.insert(tx, {
          tenantId,
          name: body.name,
          controlPlane: bundle.manifest.name,
          version,
          masters: body.masters,
          workers: body.workers,
          vcpus: body.nodeSpec.vcpus,
          memoryMiB: body.nodeSpec.memoryMiB,
          diskGiB: body.nodeSpec.diskGiB,
          vpcId: vpc.id,
          storagePoolId: pool.id,
          floatingIpId: body.floatingIpId,
          imageId: image?.id ?? null,
          settings: { ...(body.settings ?? {}) } as ClusterSettings,
        });
        const fip = await this.floatingIpsRepo.lockForTenant(tx, tenantId, body.floatingIpId);
        if (!fip) throw DomainError.validation('floatingIpId', `floating IP ${body.floatingIpId} not found`);
        if (fip.clusterId)
          throw DomainError.conflict(`floating IP ${fip.address} is already the endpoint of another cluster`, {
            field: 'floatingIpId',
          });
        await this.floatingIps.associate(tx, tenantId, fip.id, created.id);
        await this.idempotency.record(tx, 'cluster', created.id);
        await this.events.normal(
          { tenantId, clusterId: created.id },
          'Created',
          `cluster declared: ${body.masters} master(s), ${body.workers} worker(s)`,
          tx,
        );
        return created;
      });
    } catch (err) {
      if (isUniqueViolation(err, 'uq_clusters_tenant_name'))
        throw DomainError.conflict(`a cluster named "${body.name}" already exists`);
      if (isUniqueViolation(err, 'uq_clusters_floating_ip'))
        throw DomainError.conflict('that floating IP is already the endpoint of another cluster');
      throw err;
    }
    await this.jobs.nudge('cluster.reconcile', { clusterId: cluster.id }, { resourceKey: cluster.id });
    // Read back as GET shows it (a cluster deleted meanwhile is answered as it was created).
    const [view] = await this.clusters.views(cluster.tenantId, { id: cluster.id });
    return this.viewResponse(view ?? { cluster, nodes: [], floatingIpAddress: null });
  }

  private async mustFind(auth: AuthContext, id: string): Promise<ClusterEntity> {
    const cluster = await this.clusters.findForTenant(tenantOf(auth), id);
    if (!cluster) throw DomainError.notFound('cluster', id);
    return cluster;
  }

  private viewResponse(v: ClusterView): ClusterResponse {
    const bundle = this.bundles.get(v.cluster.controlPlane);
    return toClusterResponse(
      v.cluster,
      v.nodes,
      v.floatingIpAddress,
      bundle?.manifest.endpoint.port ?? 443,
      bundle?.manifest.endpoint.scheme ?? 'https',
    );
  }

  async get(auth: AuthContext, id: string): Promise<ClusterResponse> {
    const [view] = await this.clusters.views(tenantOf(auth), { id });
    if (!view) throw DomainError.notFound('cluster', id);
    return this.viewResponse(view);
  }

  async list(auth: AuthContext, limit = 100, cursor?: string): Promise<Page<ClusterResponse>> {
    const after = decodeCursor(cursor, ['name']);
    // The page with its nodes and endpoints in one query, not per cluster nor per kind.
    const views = await this.clusters.views(tenantOf(auth), { limit: limit + 1, afterName: after?.name });
    return toPage(
      views,
      limit,
      (v) => this.viewResponse(v),
      (v) => ({ name: v.cluster.name }),
    );
  }

  async patch(auth: AuthContext, id: string, body: PatchClusterRequest): Promise<ClusterResponse> {
    const tenantId = tenantOf(auth);
    checkSettings(body.settings);
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, id);
      if (!cluster || cluster.tenantId !== tenantId) throw DomainError.notFound('cluster', id);
      if (cluster.deletingAt) throw DomainError.conflict(`cluster "${cluster.name}" is being deleted`);
      const masters = body.masters ?? cluster.masters;
      const workers = body.workers ?? cluster.workers;
      await this.reserveGrowth(tx, cluster, masters + workers - (cluster.masters + cluster.workers));
      const settings = body.settings ? { ...cluster.settings, ...body.settings } : cluster.settings;
      const changed = masters !== cluster.masters || workers !== cluster.workers;
      await this.clusters.update(
        id,
        { masters, workers, settings, generation: cluster.generation + (changed ? 1 : 0) },
        tx,
      );
      if (changed) {
        await this.events.normal(
          { tenantId, clusterId: id },
          'Scaled',
          `declared size changed from ${cluster.masters}+${cluster.workers} to ${masters}+${workers} (masters+workers)`,
          tx,
        );
      }
    });
    await this.jobs.nudge('cluster.reconcile', { clusterId: id }, { resourceKey: id });
    return this.get(auth, id);
  }

  /** Quota and pool room for `added` more nodes of the cluster (nothing when it shrinks). */
  private async reserveGrowth(tx: Tx, cluster: ClusterEntity, added: number): Promise<void> {
    if (added <= 0) return;
    await this.quotas.reserve(tx, cluster.tenantId, {
      maxNodes: added,
      maxVcpus: added * cluster.vcpus,
      maxMemoryMiB: added * cluster.memoryMiB,
    });
    const pool = await this.pools.lockForTenant(tx, cluster.tenantId, cluster.storagePoolId);
    if (pool) await this.checkPoolRoom(tx, pool.id, added * cluster.diskGiB, pool.name, pool.capacityGiB);
  }

  /**
   * The autoscaler's change of the declared worker count: the same quota and room checks as a
   * tenant's PATCH. Returns false (and records why) when the quota or the pool says no.
   */
  async autoscaleTo(clusterId: string, workers: number, reason: string): Promise<boolean> {
    let outcome: { ok: true; from: number } | { ok: false; why: string } | undefined;
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, clusterId);
      if (!cluster || cluster.deletingAt || cluster.workers === workers) return;
      try {
        await this.reserveGrowth(tx, cluster, workers - cluster.workers);
      } catch (err) {
        if (err instanceof DomainError) {
          outcome = { ok: false, why: err.message };
          return;
        }
        throw err;
      }
      await this.clusters.update(clusterId, { workers, generation: cluster.generation + 1 }, tx);
      await this.events.normal(
        { tenantId: cluster.tenantId, clusterId },
        'Autoscaled',
        `workers ${cluster.workers} → ${workers}: ${reason}`,
        tx,
      );
      outcome = { ok: true, from: cluster.workers };
    });
    if (!outcome) return false;
    const cluster = await this.clusters.findById(clusterId);
    if (!outcome.ok) {
      if (cluster)
        await this.events.warning(
          { tenantId: cluster.tenantId, clusterId },
          'AutoscaleBlocked',
          `cannot scale workers to ${workers} (${reason}): ${outcome.why}`,
        );
      return false;
    }
    await this.jobs.enqueue('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    return true;
  }

  async setPaused(auth: AuthContext, id: string, paused: boolean): Promise<ClusterResponse> {
    const cluster = await this.mustFind(auth, id);
    await this.clusters.update(id, { paused });
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: id },
      paused ? 'Paused' : 'Resumed',
      paused ? 'remediation paused' : 'remediation resumed',
    );
    return this.get(auth, id);
  }

  async remove(auth: AuthContext, id: string): Promise<ClusterResponse> {
    const cluster = await this.mustFind(auth, id);
    if (!cluster.deletingAt) {
      await this.clusters.update(id, { deletingAt: new Date(), phase: 'Deleting' });
      await this.events.normal({ tenantId: cluster.tenantId, clusterId: id }, 'Deleting', 'cluster deletion requested');
    }
    await this.jobs.nudge('cluster.reconcile', { clusterId: id }, { resourceKey: id });
    return this.get(auth, id);
  }

  async nodesOf(auth: AuthContext, id: string): Promise<{ items: NodeResponse[] }> {
    await this.mustFind(auth, id);
    return { items: (await this.nodes.forCluster(id)).map(toNodeResponse) };
  }

  async replaceNode(auth: AuthContext, id: string, nodeId: string): Promise<NodeResponse> {
    const cluster = await this.mustFind(auth, id);
    const node = await this.nodes.findById(nodeId);
    if (!node || node.clusterId !== id) throw DomainError.notFound('node', nodeId);
    if (node.deleteRequestedAt) throw DomainError.conflict(`node ${node.name} is already being removed`);
    await this.nodes.update(nodeId, { deleteRequestedAt: new Date(), deleteReason: 'replace requested' });
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: id, nodeId },
      'ReplaceRequested',
      `replacement of ${node.name} requested`,
    );
    await this.jobs.nudge('cluster.reconcile', { clusterId: id }, { resourceKey: id });
    return toNodeResponse((await this.nodes.findById(nodeId))!);
  }

  async eventsOf(auth: AuthContext, id: string, limit = 100, cursor?: string): Promise<Page<EventResponse>> {
    await this.mustFind(auth, id);
    const before = decodeCursor(cursor, ['id'], { id: CURSOR_SHAPE.sequence });
    const rows = await this.clusters.events(id, limit + 1, before?.id);
    return toPage(rows, limit, toEventResponse, (e) => ({ id: String(e.id) }));
  }

  async kubeconfig(auth: AuthContext, id: string): Promise<string> {
    const cluster = await this.mustFind(auth, id);
    const sealed = await this.clusters.secrets(id);
    if (!sealed)
      throw DomainError.conflict(`cluster "${cluster.name}" has no credentials yet; try again once it is provisioning`);
    const secrets = JSON.parse(decryptSecret(this.config.secretKey, sealed.sealed, id)) as ClusterSecrets;
    const fip = await this.floatingIpsRepo.findForTenant(cluster.tenantId, cluster.floatingIpId);
    const bundle = this.bundles.get(cluster.controlPlane);
    const port = bundle?.manifest.endpoint.port ?? 6443;
    return kubeconfigYaml({
      clusterName: cluster.name,
      server: `https://${fip?.address ?? 'unassigned'}:${port}`,
      secrets,
    });
  }
}
