import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';

export type BackupPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';
export type BackupTrigger = 'manual' | 'scheduled';

/** A backup: an etcd snapshot of a cluster, stored as a volume in the cluster's storage pool. */
export interface Backup {
  id: string;
  tenantId: string;
  clusterId: string;
  clusterName: string;
  controlPlane: string;
  version: string;
  storagePoolId: string;
  /** The host whose pool holds (or will hold) the snapshot's volume. */
  hostId: string | null;
  trigger: BackupTrigger;
  phase: BackupPhase;
  message: string | null;
  sizeBytes: number;
  sha256: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

interface Row {
  id: string;
  tenant_id: string;
  cluster_id: string;
  cluster_name: string;
  control_plane: string;
  version: string;
  storage_pool_id: string;
  host_id: string | null;
  trigger: BackupTrigger;
  phase: BackupPhase;
  message: string | null;
  size_bytes: string;
  sha256: string | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

function toBackup(r: Row): Backup {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    clusterId: r.cluster_id,
    clusterName: r.cluster_name,
    controlPlane: r.control_plane,
    version: r.version,
    storagePoolId: r.storage_pool_id,
    hostId: r.host_id,
    trigger: r.trigger,
    phase: r.phase,
    message: r.message,
    sizeBytes: Number(r.size_bytes),
    sha256: r.sha256,
    createdAt: r.created_at,
    startedAt: r.started_at,
    completedAt: r.completed_at,
  };
}

/** The name of a backup's volume in its storage pool's libvirt pool. */
export function backupVolumeName(backupId: string): string {
  return `kaas-backup-${backupId}.db`;
}

const VOLUME_NAME = /^kaas-backup-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.db$/;

/** The backup id a volume name carries, or undefined for another volume. */
export function backupOfVolume(name: string): string | undefined {
  return VOLUME_NAME.exec(name)?.[1];
}

@Injectable()
export class BackupsRepository {
  constructor(private readonly db: Database) {}

  private q(tx?: Tx): Tx {
    return tx ?? this.db.manager;
  }

  async insert(
    tx: Tx,
    b: Pick<
      Backup,
      'tenantId' | 'clusterId' | 'clusterName' | 'controlPlane' | 'version' | 'storagePoolId' | 'hostId' | 'trigger'
    >,
  ): Promise<Backup> {
    const rows: Row[] = await tx.query(
      `INSERT INTO backups (tenant_id, cluster_id, cluster_name, control_plane, version, storage_pool_id, host_id, trigger, phase)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Pending') RETURNING *`,
      [b.tenantId, b.clusterId, b.clusterName, b.controlPlane, b.version, b.storagePoolId, b.hostId, b.trigger],
    );
    return toBackup(rows[0]);
  }

  async findById(id: string, tx?: Tx): Promise<Backup | null> {
    const rows: Row[] = await this.q(tx).query(`SELECT * FROM backups WHERE id = $1`, [id]);
    return rows[0] ? toBackup(rows[0]) : null;
  }

  async findForTenant(tenantId: string, id: string, tx?: Tx): Promise<Backup | null> {
    const rows: Row[] = await this.q(tx).query(`SELECT * FROM backups WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      id,
    ]);
    return rows[0] ? toBackup(rows[0]) : null;
  }

  async lockForTenant(tx: Tx, tenantId: string, id: string): Promise<Backup | null> {
    const rows: Row[] = await tx.query(`SELECT * FROM backups WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [
      tenantId,
      id,
    ]);
    return rows[0] ? toBackup(rows[0]) : null;
  }

  async lock(tx: Tx, id: string): Promise<Backup | null> {
    const rows: Row[] = await tx.query(`SELECT * FROM backups WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ? toBackup(rows[0]) : null;
  }

  /** Newest first; `clusterId` narrows to one cluster's. */
  async list(
    tenantId: string,
    limit: number,
    after?: { createdAt: string; id: string },
    clusterId?: string,
  ): Promise<Backup[]> {
    const params: unknown[] = [tenantId, limit];
    let where = `tenant_id = $1`;
    if (clusterId) {
      params.push(clusterId);
      where += ` AND cluster_id = $${params.length}`;
    }
    if (after) {
      params.push(after.createdAt, after.id);
      where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
    }
    const rows: Row[] = await this.db.manager.query(
      `SELECT * FROM backups WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
    return rows.map(toBackup);
  }

  async ofCluster(clusterId: string, tx?: Tx): Promise<Backup[]> {
    const rows: Row[] = await this.q(tx).query(
      `SELECT * FROM backups WHERE cluster_id = $1 ORDER BY created_at DESC, id DESC`,
      [clusterId],
    );
    return rows.map(toBackup);
  }

  async update(
    id: string,
    patch: Partial<Pick<Backup, 'phase' | 'message' | 'sizeBytes' | 'sha256' | 'startedAt' | 'completedAt' | 'hostId'>>,
    tx?: Tx,
  ): Promise<void> {
    const columns: Record<string, string> = {
      phase: 'phase',
      message: 'message',
      sizeBytes: 'size_bytes',
      sha256: 'sha256',
      startedAt: 'started_at',
      completedAt: 'completed_at',
      hostId: 'host_id',
    };
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [key, value] of Object.entries(patch)) {
      params.push(value);
      sets.push(`${columns[key]} = $${params.length}`);
    }
    if (sets.length === 0) return;
    await this.q(tx).query(`UPDATE backups SET ${sets.join(', ')} WHERE id = $1`, params);
  }

  /** The backup row and its volume's row go together; the volume itself is collected on its host. */
  async remove(tx: Tx, id: string): Promise<void> {
    await tx.query(`DELETE FROM volumes WHERE owner_kind = 'backup' AND owner_id = $1`, [id]);
    await tx.query(`DELETE FROM backups WHERE id = $1`, [id]);
  }

  /** Which of these backup ids still have a row (the others' volumes are left-overs). */
  async existingIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: { id: string }[] = await this.db.manager.query(`SELECT id FROM backups WHERE id = ANY($1::uuid[])`, [
      ids,
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /** Pending or running backups that no job has touched for this long: their job was lost. */
  async stale(olderThanMs: number): Promise<Backup[]> {
    const rows: Row[] = await this.db.manager.query(
      `SELECT * FROM backups WHERE phase IN ('Pending', 'Running')
          AND COALESCE(started_at, created_at) < now() - ($1 || ' milliseconds')::interval`,
      [String(olderThanMs)],
    );
    return rows.map(toBackup);
  }
}
