import { Injectable, type OnModuleInit } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { IdempotencyEffects } from '../common/idempotency-effects.js';
import { CURSOR_SHAPE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import type { ClusterEntity } from '../clusters/cluster.entity.js';
import { ClusterCapacity } from '../clusters/cluster-capacity.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { BundlesService } from '../control-plane/bundles.service.js';
import { EventsService } from '../events/events.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { StoragePoolsRepository } from '../storage-pools/storage-pools.repository.js';
import { StoragePoolsService } from '../storage-pools/storage-pools.service.js';
import { type BackupResponse, toBackupResponse } from './backups.dto.js';
import { type Backup, type BackupTrigger, BackupsRepository } from './backups.repository.js';

/**
 * Backups of a cluster's control plane (etcd snapshots), taken by a worker from outside the
 * guests through the cluster's endpoint and stored as a volume in the cluster's storage pool, on
 * the host of one of its ready masters. They outlive their cluster until deleted.
 */
@Injectable()
export class BackupsService implements OnModuleInit {
  constructor(
    private readonly db: Database,
    private readonly backups: BackupsRepository,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly bundles: BundlesService,
    private readonly pools: StoragePoolsRepository,
    private readonly capacity: ClusterCapacity,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
    private readonly idempotency: IdempotencyEffects,
    private readonly storagePools: StoragePoolsService,
  ) {}

  onModuleInit(): void {
    // A pool keeps its backups (those of deleted clusters too) until they are deleted.
    this.storagePools.registerInUseCheck(async (tx, poolId) => {
      const rows: { n: string }[] = await tx.query(`SELECT count(*) AS n FROM backups WHERE storage_pool_id = $1`, [
        poolId,
      ]);
      const n = Number(rows[0].n);
      return n > 0 ? `it holds ${n} backup(s); delete them first (GET /v1/backups)` : undefined;
    });
  }

  async create(auth: AuthContext, clusterId: string): Promise<BackupResponse> {
    const tenantId = tenantOf(auth);
    const backup = await this.db.transaction(async (tx) => {
      const made = await this.idempotency.previous(tx, 'backup');
      if (made) {
        const earlier = await this.backups.findForTenant(tenantId, made, tx);
        if (!earlier) throw DomainError.conflict(`the backup this request created (${made}) is deleted since`);
        return { backup: earlier, created: false };
      }
      const cluster = await this.clusters.lock(tx, clusterId);
      if (!cluster || cluster.tenantId !== tenantId) throw DomainError.notFound('cluster', clusterId);
      const backup = await this.start(tx, cluster, 'manual');
      await this.idempotency.record(tx, 'backup', backup.id);
      return { backup, created: true };
    });
    if (backup.created) await this.enqueue(backup.backup);
    return toBackupResponse(backup.backup);
  }

  /**
   * Declares a backup of a locked cluster: refused (409/422) when it cannot be taken now. The
   * caller enqueues it once the transaction commits.
   */
  async start(tx: Tx, cluster: ClusterEntity, trigger: BackupTrigger): Promise<Backup> {
    if (cluster.deletingAt) throw DomainError.conflict(`cluster "${cluster.name}" is being deleted`);
    const bundle = this.bundles.get(cluster.controlPlane);
    if (!bundle?.manifest.backup)
      throw DomainError.unprocessable(`the ${cluster.controlPlane} control plane has no backup method`, {
        field: 'controlPlane',
      });
    const running = (await this.backups.ofCluster(cluster.id, tx)).find(
      (b) => b.phase === 'Pending' || b.phase === 'Running',
    );
    if (running) throw DomainError.conflict(`backup ${running.id} of this cluster is still ${running.phase}`);
    // Stored on the host of a ready master: the cluster's pool is there already.
    const master = (await this.nodes.forCluster(cluster.id, tx)).find(
      (n) => n.role === 'master' && n.phase === 'Ready' && !n.deleteRequestedAt && n.hostId,
    );
    if (!master) throw DomainError.conflict(`cluster "${cluster.name}" has no ready master to take a backup from`);
    const pool = await this.pools.lockForTenant(tx, cluster.tenantId, cluster.storagePoolId);
    if (!pool) throw DomainError.conflict(`the storage pool of cluster "${cluster.name}" is gone`);
    // Its size is known once taken; at least a GiB must be free now.
    await this.capacity.checkPoolRoom(tx, pool.id, 1, pool.name, pool.capacityGiB, 'a backup');
    const backup = await this.backups.insert(tx, {
      tenantId: cluster.tenantId,
      clusterId: cluster.id,
      clusterName: cluster.name,
      controlPlane: cluster.controlPlane,
      version: cluster.version,
      storagePoolId: cluster.storagePoolId,
      hostId: master.hostId,
      trigger,
    });
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: cluster.id },
      'BackupRequested',
      `${trigger} backup ${backup.id} requested`,
      tx,
    );
    return backup;
  }

  async enqueue(backup: Backup): Promise<void> {
    if (!backup.hostId) return;
    await this.jobs.enqueue(
      'backup.take',
      { backupId: backup.id },
      { hostId: backup.hostId, resourceKey: `backup-${backup.id}` },
    );
  }

  async listForCluster(
    auth: AuthContext,
    clusterId: string,
    limit = 100,
    cursor?: string,
  ): Promise<Page<BackupResponse>> {
    const cluster = await this.clusters.findForTenant(tenantOf(auth), clusterId);
    if (!cluster) throw DomainError.notFound('cluster', clusterId);
    return this.page(auth, limit, cursor, clusterId);
  }

  list(auth: AuthContext, limit = 100, cursor?: string): Promise<Page<BackupResponse>> {
    return this.page(auth, limit, cursor);
  }

  private async page(
    auth: AuthContext,
    limit: number,
    cursor?: string,
    clusterId?: string,
  ): Promise<Page<BackupResponse>> {
    const after = decodeCursor(cursor, ['createdAt', 'id'], {
      createdAt: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
      id: CURSOR_SHAPE.uuid,
    });
    const rows = await this.backups.list(tenantOf(auth), limit + 1, after, clusterId);
    return toPage(rows, limit, toBackupResponse, (b) => ({ createdAt: b.createdAt.toISOString(), id: b.id }));
  }

  /** `clusterId`: the route's cluster, which the backup must be of. */
  async get(auth: AuthContext, id: string, clusterId?: string): Promise<BackupResponse> {
    const backup = await this.backups.findForTenant(tenantOf(auth), id);
    if (!backup || (clusterId && backup.clusterId !== clusterId)) throw DomainError.notFound('backup', id);
    return toBackupResponse(backup);
  }

  async remove(auth: AuthContext, id: string, clusterId?: string): Promise<void> {
    const tenantId = tenantOf(auth);
    const removed = await this.db.transaction(async (tx) => {
      const backup = await this.backups.lockForTenant(tx, tenantId, id);
      if (!backup || (clusterId && backup.clusterId !== clusterId)) throw DomainError.notFound('backup', id);
      const restoring = await this.restoringFrom(tx, id);
      if (restoring)
        throw DomainError.conflict(`cluster "${restoring}" is being restored from this backup; delete it afterwards`);
      await this.backups.remove(tx, id);
      await this.events.normal({ tenantId, clusterId: backup.clusterId }, 'BackupDeleted', `backup ${id} deleted`, tx);
      return backup;
    });
    await this.collect(removed);
  }

  /**
   * The volume of a deleted backup leaves its host: a job on the host's queue now, and the host
   * sweep's periodic collection of volumes without a backup if that job is lost.
   */
  async collect(backup: Pick<Backup, 'id' | 'hostId' | 'storagePoolId'>): Promise<void> {
    if (!backup.hostId) return;
    await this.jobs
      .enqueue(
        'backup.remove',
        { backupId: backup.id, storagePoolId: backup.storagePoolId, hostId: backup.hostId },
        { hostId: backup.hostId, resourceKey: `backup-${backup.id}` },
      )
      .catch(() => undefined);
  }

  /** The name of a live cluster whose restore from this backup has not finished, if any. */
  private async restoringFrom(tx: Tx, backupId: string): Promise<string | undefined> {
    const rows: { name: string }[] = await tx.query(
      `SELECT name FROM clusters WHERE restore_backup_id = $1 AND restored_at IS NULL AND deleting_at IS NULL LIMIT 1`,
      [backupId],
    );
    return rows[0]?.name;
  }
}
