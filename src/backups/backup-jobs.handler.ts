import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ClusterEntity } from '../clusters/cluster.entity.js';
import { ClusterCapacity } from '../clusters/cluster-capacity.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { Database } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import { untrustedText } from '../common/untrusted-text.js';
import type { AppConfig } from '../config/config.js';
import { BundlesService } from '../control-plane/bundles.service.js';
import { ClusterSecretsStore } from '../control-plane/cluster-secrets.store.js';
import { checkEtcdSnapshot, simulatedEtcdSnapshot, takeEtcdSnapshot } from '../control-plane/etcd-snapshot.js';
import { EventsService } from '../events/events.service.js';
import type { HostBackend } from '../hypervisor/backends/index.js';
import { HostLeases } from '../hypervisor/host-leases.service.js';
import { libvirtNames } from '../hypervisor/xml/names.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import type { JobPayloads } from '../jobs/job-types.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { type Backup, BackupsRepository, backupVolumeName } from './backups.repository.js';
import { BackupsService } from './backups.service.js';

const GiB = 1024 * 1024 * 1024;

/** A backup that cannot be taken: it ends Failed with this message (no retry of the job). */
class BackupFailed extends Error {}

/**
 * Takes backups (on the queue of the host that stores them) and runs their schedule. A backup is
 * taken from outside the guests, through the cluster's endpoint with the cluster's credentials
 * (etcd's v3 snapshot API), checked (the hash etcd appends, the database's shape), and stored as
 * a volume in the cluster's storage pool on that host, whose capacity it then counts against.
 * Simulated clusters run no etcd: their snapshot is made up of what the platform knows of them,
 * in the same file shape, and goes the same way from the check on.
 */
@Injectable()
export class BackupJobs {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly db: Database,
    private readonly backups: BackupsRepository,
    private readonly service: BackupsService,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly bundles: BundlesService,
    private readonly secrets: ClusterSecretsStore,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly capacity: ClusterCapacity,
    private readonly events: EventsService,
    private readonly leases: HostLeases,
  ) {}

  @OnJob('backup.take')
  async take(payload: JobPayloads['backup.take']): Promise<{ phase: string }> {
    const backup = await this.backups.findById(payload.backupId);
    if (!backup || backup.phase === 'Succeeded' || backup.phase === 'Failed') return { phase: backup?.phase ?? 'gone' };
    const backend = backup.hostId ? this.leases.runtime(backup.hostId)?.backend : undefined;
    // Retried: another worker may hold the host, or the host is back soon.
    if (!backend) throw new Error(`host ${backup.hostId} is not connected in this worker; will retry`);
    await this.backups.update(backup.id, { phase: 'Running', startedAt: new Date() });
    const target = { tenantId: backup.tenantId, clusterId: backup.clusterId };
    const started = Date.now();
    const pool = libvirtNames.storagePool(backup.storagePoolId);
    const volume = backupVolumeName(backup.id);
    let stored = false;
    try {
      const cluster = await this.clusters.findById(backup.clusterId);
      if (!cluster || cluster.deletingAt) throw new BackupFailed('the cluster was deleted before its backup was taken');
      const data = await this.snapshot(cluster, backend);
      const check = checkEtcdSnapshot(data);
      if (!check.ok) throw new BackupFailed(`the snapshot is not a valid etcd snapshot: ${check.reason}`);
      await backend.ensurePool({
        type: 'dir',
        name: pool,
        path: join(this.config.hostDataDir, 'pools', backup.storagePoolId),
      });
      await backend.storeBlobVolume(pool, volume, data);
      stored = true;
      const kept = await this.record(backup, data.length, check.sha256);
      if (!kept) {
        // Deleted while it was taken: nothing refers to the volume.
        await backend.removeVolume(pool, volume).catch(() => undefined);
        return { phase: 'gone' };
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      await this.events.normal(
        target,
        'BackupSucceeded',
        `backup ${backup.id}: ${data.length} bytes (etcd database ${check.dbBytes} bytes, sha256 ${check.sha256.slice(0, 12)}…) in ${seconds} s`,
      );
      return { phase: 'Succeeded' };
    } catch (err) {
      const message =
        err instanceof BackupFailed || err instanceof DomainError
          ? err.message
          : `the snapshot could not be taken: ${untrustedText((err as Error).message, 300)}`;
      if (stored) await backend.removeVolume(pool, volume).catch(() => undefined);
      await this.backups.update(backup.id, {
        phase: 'Failed',
        message: message.slice(0, 500),
        completedAt: new Date(),
      });
      await this.events.warning(target, 'BackupFailed', `backup ${backup.id} failed: ${message}`);
      this.logger.warn({ backupId: backup.id, clusterId: backup.clusterId, err: message }, 'backup failed');
      return { phase: 'Failed' };
    }
  }

  private async snapshot(cluster: ClusterEntity, backend: HostBackend): Promise<Buffer> {
    if (backend.kind === 'simulated') {
      const nodes = await this.nodes.forCluster(cluster.id);
      const state = {
        simulated: true,
        cluster: { id: cluster.id, name: cluster.name, controlPlane: cluster.controlPlane, version: cluster.version },
        members: nodes.filter((n) => n.role === 'master' && !n.deleteRequestedAt).map((n) => n.name),
        takenAt: new Date().toISOString(),
      };
      return simulatedEtcdSnapshot(Buffer.from(JSON.stringify(state)));
    }
    const bundle = this.bundles.get(cluster.controlPlane);
    if (!bundle) throw new BackupFailed(`bundle ${cluster.controlPlane} is not installed`);
    const fip = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    if (!fip) throw new BackupFailed('the cluster has no floating IP, so its control plane cannot be reached');
    const secrets = await this.secrets.get(cluster.id);
    if (!secrets) throw new BackupFailed('the cluster has no credentials yet');
    return takeEtcdSnapshot({
      url: `https://${fip.address}:${bundle.manifest.endpoint.port}`,
      tls: { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem },
      maxBytes: this.config.backup.maxBytes,
      timeoutMs: this.config.backup.timeoutSeconds * 1000,
    });
  }

  /** The volume's row (counted against the pool) and the backup's outcome, at once. */
  private async record(backup: Backup, bytes: number, sha256: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const locked = await this.backups.lock(tx, backup.id);
      // Deleted meanwhile, or given up on (failed by the schedule's clock): the volume goes.
      if (!locked || locked.phase !== 'Running') return false;
      const rows: { name: string; capacity_gib: number }[] = await tx.query(
        `SELECT name, capacity_gib FROM storage_pools WHERE id = $1 FOR UPDATE`,
        [backup.storagePoolId],
      );
      if (!rows[0]) throw new BackupFailed('the storage pool is gone');
      const gib = Math.max(1, Math.ceil(bytes / GiB));
      await this.capacity.checkPoolRoom(
        tx,
        backup.storagePoolId,
        gib,
        rows[0].name,
        rows[0].capacity_gib,
        'the backup',
      );
      await tx.query(
        `INSERT INTO volumes (tenant_id, pool_id, name, capacity_gib, owner_kind, owner_id, host_id)
         VALUES ($1, $2, $3, $4, 'backup', $5, $6)`,
        [backup.tenantId, backup.storagePoolId, backupVolumeName(backup.id), gib, backup.id, backup.hostId],
      );
      await this.backups.update(
        backup.id,
        { phase: 'Succeeded', sizeBytes: bytes, sha256, completedAt: new Date(), message: null },
        tx,
      );
      return true;
    });
  }

  @OnJob('backup.remove')
  async remove(payload: JobPayloads['backup.remove']): Promise<{ removed: boolean }> {
    // Still recorded: the deletion did not commit.
    if (await this.backups.findById(payload.backupId)) return { removed: false };
    const backend = this.leases.runtime(payload.hostId)?.backend;
    if (!backend) throw new Error(`host ${payload.hostId} is not connected in this worker; will retry`);
    await backend.removeVolume(libvirtNames.storagePool(payload.storagePoolId), backupVolumeName(payload.backupId));
    return { removed: true };
  }

  /**
   * Every minute: a backup for each cluster whose schedule is due, the scheduled backups beyond
   * `keep` deleted (the newest kept; manual ones are the tenant's to delete), and backups whose
   * job was lost queued again, or failed once they ran out of time.
   */
  @OnJob('backups.schedule')
  async schedule(): Promise<{ started: number; pruned: number; requeued: number }> {
    let started = 0;
    let pruned = 0;
    let requeued = 0;
    const due: { id: string }[] = await this.db.manager.query(
      `SELECT c.id FROM clusters c
        WHERE c.deleting_at IS NULL AND jsonb_typeof(c.settings->'backup') = 'object' AND c.phase IN ('Running', 'Updating', 'Degraded')
          AND NOT EXISTS (
            SELECT 1 FROM backups b WHERE b.cluster_id = c.id AND b.trigger = 'scheduled'
               AND b.created_at > now() - ((c.settings->'backup'->>'intervalMinutes')::int * interval '1 minute'))`,
    );
    for (const { id } of due) {
      try {
        const backup = await this.db.transaction(async (tx) => {
          const cluster = await this.clusters.lock(tx, id);
          if (!cluster?.settings.backup) return undefined;
          return this.service.start(tx, cluster, 'scheduled');
        });
        if (backup) {
          await this.service.enqueue(backup);
          started++;
        }
      } catch (err) {
        // Not now (a backup still running, no ready master, a full pool): the next minute tries again.
        this.logger.info({ clusterId: id, why: (err as Error).message }, 'scheduled backup not started');
      }
    }
    const extra: {
      id: string;
      host_id: string | null;
      tenant_id: string;
      cluster_id: string;
      storage_pool_id: string;
    }[] = await this.db.manager.query(
      `SELECT b.id, b.host_id, b.tenant_id, b.cluster_id, b.storage_pool_id FROM (
           SELECT b.*, row_number() OVER (PARTITION BY b.cluster_id ORDER BY b.created_at DESC, b.id DESC) AS n,
                  (c.settings->'backup'->>'keep')::int AS keep
             FROM backups b JOIN clusters c ON c.id = b.cluster_id
            WHERE b.trigger = 'scheduled' AND b.phase IN ('Succeeded', 'Failed') AND jsonb_typeof(c.settings->'backup') = 'object') b
          WHERE b.n > b.keep`,
    );
    for (const b of extra) {
      await this.db.transaction(async (tx) => {
        if (await this.backups.lock(tx, b.id)) await this.backups.remove(tx, b.id);
      });
      await this.events.normal(
        { tenantId: b.tenant_id, clusterId: b.cluster_id },
        'BackupPruned',
        `scheduled backup ${b.id} deleted: the schedule keeps the newest ones`,
      );
      await this.service.collect({ id: b.id, hostId: b.host_id, storagePoolId: b.storage_pool_id });
      pruned++;
    }
    const lostAfterMs = 2 * 60 * 1000;
    for (const b of await this.backups.stale(lostAfterMs)) {
      const runningFor = b.startedAt ? Date.now() - b.startedAt.getTime() : 0;
      if (b.phase === 'Running' && runningFor > this.config.backup.timeoutSeconds * 1000 + lostAfterMs) {
        await this.backups.update(b.id, {
          phase: 'Failed',
          message: 'the worker taking it stopped before it finished',
          completedAt: new Date(),
        });
        await this.service.collect(b);
      } else if (b.phase === 'Pending') {
        if (Date.now() - b.createdAt.getTime() > this.config.backup.timeoutSeconds * 1000 + lostAfterMs) {
          // Its host never took it (gone, or held by no worker all along).
          await this.backups.update(b.id, {
            phase: 'Failed',
            message: 'the host that was to store it did not take it in time',
            completedAt: new Date(),
          });
        } else {
          await this.service.enqueue(b);
          requeued++;
        }
      }
    }
    return { started, pruned, requeued };
  }
}
