import { Injectable } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, isUniqueViolation, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { checkIfMatch, type IfMatch } from '../common/if-match.js';
import { IdempotencyEffects } from '../common/idempotency-effects.js';
import { decodeCursor, encodeCursor } from '../common/pagination.js';
import { BackupsRepository } from '../backups/backups.repository.js';
import { BundlesService } from '../control-plane/bundles.service.js';
import { EventsService } from '../events/events.service.js';
import { HostsRepository } from '../hypervisor/hosts.repository.js';
import { JobQueue } from '../jobs/job-types.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import { FloatingIpsService } from '../networks/floating-ips.service.js';
import { VpcsRepository } from '../networks/vpcs.repository.js';
import { StoragePoolsRepository } from '../storage-pools/storage-pools.repository.js';
import { QuotaService } from '../tenants/quota.service.js';
import type { ClusterEntity, ClusterSettings } from './cluster.entity.js';
import { checkSettings, ClusterCapacity } from './cluster-capacity.js';
import type { ClusterStamp, ClusterView } from './clusters.repository.js';
import { ClusterAnswers } from './cluster-answers.js';
import {
  type ClusterResponse,
  type CreateClusterRequest,
  type PatchClusterRequest,
  toClusterResponse,
} from './clusters.dto.js';
import { ClustersRepository } from './clusters.repository.js';
import { poolTotals, type WorkerPool } from './worker-pools.js';
import { checkPoolNames, defaultPool, poolFromRequest, WorkerPoolsService } from './worker-pools.service.js';

/** The API side of clusters: validate, reserve, persist the desired state, enqueue. No VM work. */
@Injectable()
export class ClustersService {
  /** Answers this process made for lists, by cluster (see `list`). */
  private readonly answers = new ClusterAnswers();

  constructor(
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly capacity: ClusterCapacity,
    private readonly quotas: QuotaService,
    private readonly bundles: BundlesService,
    private readonly vpcs: VpcsRepository,
    private readonly pools: StoragePoolsRepository,
    private readonly floatingIps: FloatingIpsService,
    private readonly floatingIpsRepo: FloatingIpsRepository,
    private readonly hostsRepo: HostsRepository,
    private readonly jobs: JobQueue,
    private readonly events: EventsService,
    private readonly idempotency: IdempotencyEffects,
    private readonly workerPools: WorkerPoolsService,
    private readonly backups: BackupsRepository,
  ) {}

  /**
   * The backup a new cluster starts from: the caller's, complete, of the same control plane, and
   * restored at its own version (a version given must be that one).
   */
  private async restoreSource(tenantId: string, body: CreateClusterRequest) {
    const backupId = body.restoreFrom!.backupId;
    const backup = await this.backups.findForTenant(tenantId, backupId);
    if (!backup) throw DomainError.validation('restoreFrom.backupId', `backup ${backupId} not found`);
    if (backup.phase !== 'Succeeded')
      throw DomainError.validation('restoreFrom.backupId', `backup ${backupId} is ${backup.phase}, not Succeeded`);
    if (body.controlPlane !== backup.controlPlane)
      throw DomainError.validation(
        'controlPlane',
        `the backup holds ${backup.controlPlane} data; a cluster restored from it runs ${backup.controlPlane}`,
      );
    if (body.version !== undefined && body.version !== backup.version)
      throw DomainError.validation(
        'version',
        `a restore runs the backup's version ${backup.version}; upgrade the restored cluster afterwards`,
      );
    // The first master reads the snapshot where it is stored.
    if (!backup.hostId || !(await this.hostsRepo.findById(backup.hostId)))
      throw DomainError.validation('restoreFrom.backupId', `the host that stored backup ${backupId} is gone`);
    return backup;
  }

  /** The guest image a version names, which must be registered (422 naming `version`); null: none named. */
  private async versionImage(controlPlane: string, version: string, tx: Tx) {
    const name = this.bundles.imageOf(controlPlane, version);
    if (!name) return null;
    const image = await this.hostsRepo.findImageByName(name, tx);
    if (!image)
      throw DomainError.unprocessable(
        `version: ${controlPlane} ${version} boots guest image "${name}", which the operator has not registered`,
        { field: 'version', image: name },
      );
    return image;
  }

  async create(auth: AuthContext, body: CreateClusterRequest): Promise<ClusterResponse> {
    const tenantId = tenantOf(auth);
    checkSettings(body.settings);
    const restore = body.restoreFrom ? await this.restoreSource(tenantId, body) : undefined;
    const { bundle, version } = this.bundles.resolve(body.controlPlane, restore?.version ?? body.version);
    const pools = this.declaredPools(body);
    await this.capacity.checkNodeFits(body.nodeSpec.vcpus, body.nodeSpec.memoryMiB);
    for (const [i, p] of pools.entries())
      await this.capacity.checkNodeFits(p.nodeSpec.vcpus, p.nodeSpec.memoryMiB, `workerPools[${i}].nodeSpec`);
    const totals = poolTotals(pools);
    const n = body.masters + totals.workers;
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
          maxVcpus: body.masters * body.nodeSpec.vcpus + totals.workerVcpus,
          maxMemoryMiB: body.masters * body.nodeSpec.memoryMiB + totals.workerMemoryMiB,
        });
        const vpc = await this.vpcs.holdForTenant(tx, tenantId, body.vpcId);
        if (!vpc) throw DomainError.validation('vpcId', `VPC ${body.vpcId} not found`);
        const pool = await this.pools.lockForTenant(tx, tenantId, body.storagePoolId);
        if (!pool) throw DomainError.validation('storagePoolId', `storage pool ${body.storagePoolId} not found`);
        await this.capacity.checkPoolRoom(
          tx,
          pool.id,
          body.masters * body.nodeSpec.diskGiB + totals.workerDiskGiB,
          pool.name,
          pool.capacityGiB,
        );
        // Locked before the cluster row names it: the order PATCH /v1/floating-ips/:id takes them in.
        const fip = await this.floatingIpsRepo.lockForTenant(tx, tenantId, body.floatingIpId);
        if (!fip) throw DomainError.validation('floatingIpId', `floating IP ${body.floatingIpId} not found`);
        if (fip.clusterId)
          throw DomainError.conflict(`floating IP ${fip.address} is already the endpoint of another cluster`, {
            field: 'floatingIpId',
          });
        const routerNetwork = await this.floatingIpsRepo.otherProviderNetwork(tx, vpc.id, fip);
        if (routerNetwork)
          throw DomainError.unprocessable(
            `floatingIpId: ${fip.address} is not on the provider network of VPC "${vpc.name}" (${routerNetwork}); take a floating IP from a range on that network`,
            { field: 'floatingIpId', providerNetwork: routerNetwork },
          );
        const image =
          (await this.versionImage(bundle.manifest.name, version, tx)) ?? (await this.hostsRepo.defaultImage(tx));
        const created = await this.clusters.insert(tx, {
          tenantId,
          name: body.name,
          controlPlane: bundle.manifest.name,
          version,
          masters: body.masters,
          workerPools: pools,
          ...totals,
          vcpus: body.nodeSpec.vcpus,
          memoryMiB: body.nodeSpec.memoryMiB,
          diskGiB: body.nodeSpec.diskGiB,
          vpcId: vpc.id,
          storagePoolId: pool.id,
          floatingIpId: fip.id,
          imageId: image?.id ?? null,
          settings: { ...(body.settings ?? {}) } as ClusterSettings,
          restoreBackupId: restore?.id ?? null,
          restoredAt: null,
        });
        await this.floatingIps.associate(tx, tenantId, fip.id, created.id);
        await this.idempotency.record(tx, 'cluster', created.id);
        await this.events.normal(
          { tenantId, clusterId: created.id },
          'Created',
          `cluster declared: ${body.masters} master(s), ${totals.workers} worker(s)` +
            (body.workerPools ? ` in ${pools.length} pool(s)` : '') +
            (restore ? `, restored from backup ${restore.id} of "${restore.clusterName}"` : ''),
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

  /** The pools a create declares: `workerPools` as given, or one `default` pool of `workers`. */
  private declaredPools(body: CreateClusterRequest): WorkerPool[] {
    if (body.workers !== undefined && body.workerPools !== undefined)
      throw DomainError.validation('workerPools', 'give workers or workerPools, not both');
    if (body.workerPools === undefined) {
      if (body.workers === undefined)
        throw DomainError.validation('workers', 'workers (a count) or workerPools (a list of pools) is required');
      return [defaultPool(body.workers, body.nodeSpec)];
    }
    const pools = body.workerPools.map((p, i) => poolFromRequest(p, body.nodeSpec, `workerPools[${i}].`));
    checkPoolNames(pools, 'workerPools');
    return pools;
  }

  private async mustFind(auth: AuthContext, id: string): Promise<ClusterEntity> {
    const cluster = await this.clusters.findForTenant(tenantOf(auth), id);
    if (!cluster) throw DomainError.notFound('cluster', id);
    return cluster;
  }

  private viewResponse(v: Omit<ClusterView, 'stamp'>): ClusterResponse {
    const endpoint = this.endpointOf(v.cluster.controlPlane);
    return toClusterResponse(v.cluster, v.nodes, v.floatingIpAddress, endpoint.port, endpoint.scheme);
  }

  private endpointOf(controlPlane: string): { scheme: string; port: number } {
    const bundle = this.bundles.get(controlPlane);
    return { scheme: bundle?.manifest.endpoint.scheme ?? 'https', port: bundle?.manifest.endpoint.port ?? 443 };
  }

  async get(auth: AuthContext, id: string): Promise<ClusterResponse> {
    const [view] = await this.clusters.views(tenantOf(auth), { id });
    if (!view) throw DomainError.notFound('cluster', id);
    return this.viewResponse(view);
  }

  /**
   * A page of the tenant's clusters as JSON text. The page's stamps are read first (one narrow
   * query); only the clusters whose answer this process has not made for the same stamp are read
   * whole (a second query, by id) and their answers made and kept. A cluster deleted between the
   * two reads is left out of the page.
   */
  async list(auth: AuthContext, limit = 100, cursor?: string, name?: string): Promise<string> {
    const tenantId = tenantOf(auth);
    const after = decodeCursor(cursor, ['name']);
    const stamps = await this.clusters.stamps(tenantId, { limit: limit + 1, afterName: after?.name, name });
    const more = stamps.length > limit;
    const page = more ? stamps.slice(0, limit) : stamps;
    const endpoint = (s: ClusterStamp) => {
      const e = this.endpointOf(s.controlPlane);
      return `${e.scheme}:${e.port}`;
    };
    const items = page.map((s) => this.answers.find(s, endpoint(s)));
    const missing = page.filter((_, i) => items[i] === undefined).map((s) => s.id);
    if (missing.length > 0) {
      const made = new Map<string, string>();
      for (const view of await this.clusters.views(tenantId, { ids: missing })) {
        const json = JSON.stringify(this.viewResponse(view));
        this.answers.keep(view.stamp, endpoint(view.stamp), json);
        made.set(view.cluster.id, json);
      }
      page.forEach((s, i) => (items[i] ??= made.get(s.id)));
    }
    const nextCursor = more ? `,"nextCursor":${JSON.stringify(encodeCursor({ name: page[limit - 1].name }))}` : '';
    return `{"items":[${items.filter((i) => i !== undefined).join(',')}]${nextCursor}}`;
  }

  async patch(auth: AuthContext, id: string, body: PatchClusterRequest, ifMatch?: IfMatch): Promise<ClusterResponse> {
    const tenantId = tenantOf(auth);
    checkSettings(body.settings);
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, id);
      if (!cluster || cluster.tenantId !== tenantId) throw DomainError.notFound('cluster', id);
      checkIfMatch(ifMatch, cluster.generation, `cluster "${cluster.name}"`);
      if (cluster.deletingAt) throw DomainError.conflict(`cluster "${cluster.name}" is being deleted`);
      const masters = body.masters ?? cluster.masters;
      const pools = body.workers === undefined ? cluster.workerPools : this.withWorkers(cluster, body.workers);
      const settings = body.settings ? { ...cluster.settings, ...body.settings } : cluster.settings;
      const version = body.version ?? cluster.version;
      if (version !== cluster.version) {
        this.bundles.checkUpgrade(cluster.controlPlane, cluster.version, version);
        await this.versionImage(cluster.controlPlane, version, tx);
      }
      const upgraded = version !== cluster.version;
      const changed =
        (await this.workerPools.declare(
          tx,
          cluster,
          { masters, pools },
          { settings, version, ...(upgraded ? { generation: cluster.generation + 1 } : {}) },
        )) || upgraded;
      if (upgraded)
        await this.events.normal(
          { tenantId, clusterId: id },
          'UpgradeRequested',
          `rolling from ${cluster.version} to ${version}: masters one at a time, then each pool`,
          tx,
        );
      const workers = poolTotals(pools).workers;
      if (changed && (masters !== cluster.masters || workers !== cluster.workers)) {
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

  /**
   * `PATCH {workers}`: the count of the cluster's one pool (a cluster without pools gets the
   * default one); with several pools the count is ambiguous, so 409 naming them.
   */
  private withWorkers(cluster: ClusterEntity, workers: number): WorkerPool[] {
    const pools = cluster.workerPools;
    if (pools.length === 0) return [defaultPool(workers, cluster)];
    if (pools.length > 1)
      throw DomainError.conflict(
        `cluster "${cluster.name}" has ${pools.length} worker pools (${pools.map((p) => p.name).join(', ')}): scale one with PATCH /v1/clusters/${cluster.id}/pools/<name> {count}`,
        { field: 'workers', pools: pools.map((p) => p.name) },
      );
    return [{ ...pools[0], count: workers }];
  }

  /**
   * Every node gets new certificates from the cluster's CA: each is replaced by a new node, one
   * at a time as in a rolling upgrade (masters first, new before old), so quorum holds.
   */
  async rotateCertificates(auth: AuthContext, id: string): Promise<ClusterResponse> {
    const tenantId = tenantOf(auth);
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, id);
      if (!cluster || cluster.tenantId !== tenantId) throw DomainError.notFound('cluster', id);
      if (cluster.deletingAt) throw DomainError.conflict(`cluster "${cluster.name}" is being deleted`);
      await this.clusters.update(
        id,
        { certificatesGeneration: cluster.certificatesGeneration + 1, generation: cluster.generation + 1 },
        tx,
      );
      await this.events.normal(
        { tenantId, clusterId: id },
        'CertificateRotationRequested',
        'every node is replaced by one with new certificates from the cluster CA, one at a time',
        tx,
      );
    });
    await this.jobs.nudge('cluster.reconcile', { clusterId: id }, { resourceKey: id });
    return this.get(auth, id);
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

  async remove(auth: AuthContext, id: string, ifMatch?: IfMatch): Promise<ClusterResponse> {
    const cluster = await this.mustFind(auth, id);
    checkIfMatch(ifMatch, cluster.generation, `cluster "${cluster.name}"`);
    if (!cluster.deletingAt) {
      await this.clusters.markDeleting(id);
      await this.events.normal({ tenantId: cluster.tenantId, clusterId: id }, 'Deleting', 'cluster deletion requested');
    }
    await this.jobs.nudge('cluster.reconcile', { clusterId: id }, { resourceKey: id });
    return this.get(auth, id);
  }
}
