import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import type { NodeSummary } from '../nodes/nodes.repository.js';
import type { Condition } from '../common/conditions.js';
import { eventsParam, insertEventsSql, type NewEvent } from '../events/events.repository.js';
import { ClusterEntity } from './cluster.entity.js';

/** The desired-state fields of a cluster; its phase and conditions change only through `patchStatus`. */
export type ClusterSpecPatch = Partial<
  Pick<
    ClusterEntity,
    | 'masters'
    | 'version'
    | 'certificatesGeneration'
    | 'workers'
    | 'workerPools'
    | 'workerVcpus'
    | 'workerMemoryMiB'
    | 'workerDiskGiB'
    | 'settings'
    | 'generation'
    | 'paused'
    | 'autoscaledAt'
    | 'floatingIpId'
  >
>;

/** A node's summary as `views` reads it: JSON, so its time is a string. */
interface RawNodeSummary {
  id: string;
  phase: NodeSummary['phase'];
  pool: string | null;
  deleteRequestedAt: string | null;
  usage: NodeSummary['usage'];
}

/** A cluster with what its API answer shows besides its own row. */
export interface ClusterView {
  cluster: ClusterEntity;
  nodes: NodeSummary[];
  floatingIpAddress: string | null;
  /** What the answer was made from, as `stamps` reads it. */
  stamp: ClusterStamp;
}

/**
 * What a cluster's API answer depends on, in a few bytes: the row's version (PostgreSQL's
 * `xmin`, new with every write of the row), its endpoint's address and its nodes' summaries as
 * text. Two reads with equal stamps make the same answer, so an answer made once can be served
 * again without reading the row's heavy columns (conditions, pools, settings).
 */
export interface ClusterStamp {
  id: string;
  name: string;
  controlPlane: string;
  version: string;
  floatingIpAddress: string | null;
  nodes: string;
}

/** The endpoint's address and the nodes' summaries of cluster `c`, as both reads select them. */
const VIEW_EXTRAS = `(SELECT host(f.address) FROM floating_ips f WHERE f.id = c.floating_ip_id) AS view_fip,
        (SELECT COALESCE(json_agg(json_build_object('id', n.id, 'phase', n.phase, 'pool', n.pool,
            'deleteRequestedAt', n.delete_requested_at, 'usage', n.usage) ORDER BY n.id), '[]'::json)
          FROM nodes n WHERE n.cluster_id = c.id)::text AS view_nodes,
        c.xmin::text AS view_version`;

@Injectable()
export class ClustersRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(ClusterEntity);
  }

  insert(tx: Tx, row: Partial<ClusterEntity>): Promise<ClusterEntity> {
    return this.repo(tx).save(
      this.repo(tx).create({
        phase: 'Pending',
        conditions: [],
        paused: false,
        settings: {},
        generation: 1,
        observedGeneration: 0,
        certificatesGeneration: 1,
        deletingAt: null,
        statusVersion: 0,
        autoscaledAt: null,
        ...row,
      }),
    );
  }

  findById(id: string, tx?: Tx): Promise<ClusterEntity | null> {
    return this.repo(tx).findOneBy({ id });
  }

  findForTenant(tenantId: string, id: string, tx?: Tx): Promise<ClusterEntity | null> {
    return this.repo(tx).findOneBy({ tenantId, id });
  }

  lock(tx: Tx, id: string): Promise<ClusterEntity | null> {
    return this.repo(tx).createQueryBuilder('c').setLock('pessimistic_write').where('c.id = :id', { id }).getOne();
  }

  /**
   * Clusters of a tenant with their nodes' summaries and their endpoint's address, in one query
   * (the API's reads: one round trip instead of three). The statement is written out, not built
   * per call, and its rows are turned into entities directly: building and hydrating through the
   * query builder cost more than the query itself.
   */
  async views(
    tenantId: string,
    q: { id: string } | { ids: string[] } | { limit: number; afterName?: string; name?: string },
  ): Promise<ClusterView[]> {
    const read = this.viewReads();
    const params: unknown[] = [tenantId];
    const { where, tail } = this.viewFilter(q, params);
    const rows: Record<string, unknown>[] = await this.db.manager.query(
      `${read.select} WHERE c.tenant_id = $1 AND ${where}${tail}`,
      params,
    );
    return rows.map((r) => {
      const cluster = new ClusterEntity();
      const target = cluster as unknown as Record<string, unknown>;
      for (const p of read.properties) target[p] = r[p];
      const stamp = toStamp(r);
      const nodes = JSON.parse(stamp.nodes) as RawNodeSummary[];
      return {
        cluster,
        floatingIpAddress: stamp.floatingIpAddress,
        stamp,
        nodes: nodes.map((n) => ({
          id: n.id,
          clusterId: cluster.id,
          phase: n.phase,
          pool: n.pool,
          deleteRequestedAt: n.deleteRequestedAt ? new Date(n.deleteRequestedAt) : null,
          usage: n.usage,
        })),
      };
    });
  }

  /**
   * The stamps of a page of a tenant's clusters (as `views` with a limit would answer it), without
   * the rows' heavy columns: what a list needs to tell which answers it made before still hold.
   */
  async stamps(tenantId: string, q: { limit: number; afterName?: string; name?: string }): Promise<ClusterStamp[]> {
    const params: unknown[] = [tenantId];
    const { where, tail } = this.viewFilter(q, params);
    const rows: Record<string, unknown>[] = await this.db.manager.query(
      `SELECT c.id, c.name, c.control_plane AS "controlPlane", ${VIEW_EXTRAS} FROM clusters c WHERE c.tenant_id = $1 AND ${where}${tail}`,
      params,
    );
    return rows.map(toStamp);
  }

  private viewFilter(
    q: { id: string } | { ids: string[] } | { limit: number; afterName?: string; name?: string },
    params: unknown[],
  ): { where: string; tail: string } {
    if ('id' in q) return { where: `c.id = $${params.push(q.id)}`, tail: '' };
    if ('ids' in q) return { where: `c.id = ANY($${params.push(q.ids)}::uuid[])`, tail: '' };
    const conditions: string[] = [];
    if (q.afterName !== undefined) conditions.push(`c.name > $${params.push(q.afterName)}`);
    if (q.name !== undefined) conditions.push(`c.name = $${params.push(q.name)}`);
    return {
      where: conditions.join(' AND ') || 'TRUE',
      tail: ` ORDER BY c.name ASC, c.id ASC LIMIT $${params.push(q.limit)}`,
    };
  }

  private viewRead?: { select: string; properties: string[] };

  /** The select of `views` (every column of the entity, under its property's name), made once. */
  private viewReads(): { select: string; properties: string[] } {
    if (this.viewRead) return this.viewRead;
    const columns = this.db.dataSource.getMetadata(ClusterEntity).columns;
    const properties = columns.map((c) => c.propertyName);
    const select = `SELECT ${columns.map((c) => `c.${c.databaseName} AS "${c.propertyName}"`).join(', ')},
        ${VIEW_EXTRAS}
      FROM clusters c`;
    this.viewRead = { select, properties };
    return this.viewRead;
  }

  list(tenantId: string, limit: number, afterName?: string): Promise<ClusterEntity[]> {
    const qb = this.repo().createQueryBuilder('c').where('c.tenant_id = :tenantId', { tenantId });
    if (afterName !== undefined) qb.andWhere('c.name > :afterName', { afterName });
    return qb.orderBy('c.name', 'ASC').addOrderBy('c.id', 'ASC').limit(limit).getMany();
  }

  async update(id: string, patch: ClusterSpecPatch, tx?: Tx): Promise<void> {
    await this.repo(tx).update({ id }, patch);
  }

  /**
   * Writes the cluster's phase and conditions as computed from `cluster` as read, unless its
   * status changed since (a deletion, another pass): then nothing is written and the answer is
   * false, and the caller looks again. `cluster` is updated in place when the write lands. The
   * `events` that tell of the change are written in the same statement, and only if it lands.
   */
  async patchStatus(
    cluster: ClusterEntity,
    status: { phase: ClusterEntity['phase']; conditions: Condition[]; observedGeneration?: number },
    events: NewEvent[] = [],
  ): Promise<boolean> {
    const params: unknown[] = [cluster.id, cluster.statusVersion, status.phase, JSON.stringify(status.conditions)];
    const observed =
      status.observedGeneration === undefined
        ? ''
        : `, observed_generation = $${params.push(status.observedGeneration)}::integer`;
    let sql = `WITH written AS (
        UPDATE clusters SET phase = $3, conditions = $4::jsonb${observed},
                            status_version = status_version + 1, updated_at = now()
         WHERE id = $1 AND status_version = $2
        RETURNING 1)`;
    if (events.length > 0) sql += `, told AS (${insertEventsSql(params.push(eventsParam(events)), 'written')})`;
    const rows: { n: number }[] = await this.db.manager.query(`${sql} SELECT count(*)::int AS n FROM written`, params);
    if (rows[0].n !== 1) return false;
    Object.assign(cluster, status, { statusVersion: cluster.statusVersion + 1 });
    return true;
  }

  /** The tenant's delete: the phase says so at once, and any pass computed before it is refused. */
  async markDeleting(id: string): Promise<void> {
    await this.repo()
      .createQueryBuilder()
      .update(ClusterEntity)
      .set({ deletingAt: () => 'now()', phase: 'Deleting', statusVersion: () => 'status_version + 1' })
      .where('id = :id AND deleting_at IS NULL', { id })
      .execute();
  }

  async remove(tx: Tx, id: string): Promise<void> {
    await this.repo(tx).delete({ id });
  }

  /** One replacement of an unhealthy node, kept for the remediation back-off window. */
  async recordRemediation(clusterId: string, node: { id: string; name: string }): Promise<void> {
    await this.db.manager.query(`INSERT INTO remediations (cluster_id, node_id, node_name) VALUES ($1, $2, $3)`, [
      clusterId,
      node.id,
      node.name,
    ]);
  }

  async remediationsSince(clusterId: string, since: Date): Promise<number> {
    const rows: { n: string }[] = await this.db.manager.query(
      `SELECT count(*) AS n FROM remediations WHERE cluster_id = $1 AND started_at > $2`,
      [clusterId, since],
    );
    return Number(rows[0].n);
  }

  /** Declared sizes of the tenant's clusters, for quota usage. */
  /**
   * What a tenant's clusters hold against its quota: per cluster the larger of its declared size
   * and the nodes that exist (nodes still leaving after a scale-down, a surge replacement, a
   * cluster being deleted whose VMs still run all hold real resources). Clusters being deleted
   * count their nodes, not themselves.
   */
  async declaredUsage(
    tenantId: string,
    tx?: Tx,
  ): Promise<{ clusters: number; nodes: number; vcpus: number; memoryMiB: number }> {
    const [row]: { clusters: string; nodes: string; vcpus: string; memory: string }[] = await (
      tx ?? this.db.manager
    ).query(
      `SELECT count(*) FILTER (WHERE c.deleting_at IS NULL) AS clusters,
              COALESCE(SUM(GREATEST(d.nodes, COALESCE(n.nodes, 0))), 0) AS nodes,
              COALESCE(SUM(GREATEST(d.vcpus, COALESCE(n.vcpus, 0))), 0) AS vcpus,
              COALESCE(SUM(GREATEST(d.memory, COALESCE(n.memory, 0))), 0) AS memory
         FROM clusters c
         CROSS JOIN LATERAL (SELECT CASE WHEN c.deleting_at IS NULL THEN c.masters + c.workers ELSE 0 END AS nodes,
                                    CASE WHEN c.deleting_at IS NULL THEN c.masters * c.vcpus + c.worker_vcpus ELSE 0 END AS vcpus,
                                    CASE WHEN c.deleting_at IS NULL THEN c.masters * c.memory_mib + c.worker_memory_mib ELSE 0 END AS memory) d
         LEFT JOIN (SELECT cluster_id, count(*) AS nodes, SUM(vcpus) AS vcpus, SUM(memory_mib) AS memory
                      FROM nodes WHERE tenant_id = $1 GROUP BY cluster_id) n ON n.cluster_id = c.id
        WHERE c.tenant_id = $1`,
      [tenantId],
    );
    return {
      clusters: Number(row?.clusters ?? 0),
      nodes: Number(row?.nodes ?? 0),
      vcpus: Number(row?.vcpus ?? 0),
      memoryMiB: Number(row?.memory ?? 0),
    };
  }

  async usesVpc(tx: Tx, vpcId: string): Promise<string | undefined> {
    const c = await this.repo(tx).findOneBy({ vpcId });
    return c ? `cluster "${c.name}" uses it` : undefined;
  }

  async usesPool(tx: Tx, poolId: string): Promise<string | undefined> {
    const c = await this.repo(tx).findOneBy({ storagePoolId: poolId });
    return c ? `cluster "${c.name}" uses it` : undefined;
  }

  /**
   * Clusters that are not at rest: not Running, being deleted, with a node not ready or to be
   * replaced (another version, older certificates, a certificate ending within 30 days), or with
   * a declared size their nodes do not match (a size change whose job was lost with Redis).
   */
  async unsettledIds(): Promise<string[]> {
    const rows: { id: string }[] = await this.db.manager.query(
      `SELECT c.id FROM clusters c
        WHERE c.phase <> 'Running' OR c.deleting_at IS NOT NULL
           OR EXISTS (SELECT 1 FROM nodes n WHERE n.cluster_id = c.id AND (n.phase <> 'Ready' OR n.delete_requested_at IS NOT NULL OR n.replace_requested_at IS NOT NULL
                                                                    OR n.version <> c.version OR n.certificates_generation < c.certificates_generation
                                                                    OR n.certificate_expires_at < now() + interval '30 days'))
           OR EXISTS (SELECT 1 FROM (SELECT count(*) FILTER (WHERE n.role = 'master') AS masters,
                                            count(*) FILTER (WHERE n.role = 'worker') AS workers
                                       FROM nodes n WHERE n.cluster_id = c.id) k
                       WHERE k.masters <> c.masters OR k.workers <> c.workers)`,
    );
    return rows.map((r) => r.id);
  }

  /** Clusters with an autoscaler that may act now (not paused, not being deleted). */
  autoscaled(): Promise<ClusterEntity[]> {
    return this.repo()
      .createQueryBuilder('c')
      .where(
        `(c.settings ? 'autoscale' OR jsonb_path_exists(c.worker_pools, '$[*].autoscale')) AND c.deleting_at IS NULL AND NOT c.paused`,
      )
      .getMany();
  }

  async settingsOf(ids: string[]): Promise<Map<string, ClusterEntity['settings']>> {
    if (ids.length === 0) return new Map();
    const rows = await this.repo()
      .createQueryBuilder('c')
      .select(['c.id', 'c.settings'])
      .where('c.id IN (:...ids)', { ids })
      .getMany();
    return new Map(rows.map((r) => [r.id, r.settings]));
  }
}

function toStamp(r: Record<string, unknown>): ClusterStamp {
  return {
    id: r.id as string,
    name: r.name as string,
    controlPlane: r.controlPlane as string,
    version: r.view_version as string,
    floatingIpAddress: r.view_fip as string | null,
    nodes: r.view_nodes as string,
  };
}
