import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { EventEntity } from './event.entity.js';

/** An event row to write. */
export type NewEvent = Omit<EventEntity, 'id' | 'createdAt'>;

/**
 * The INSERT of the events given as parameter `$<param>` (`eventsParam(rows)`), in their order.
 * With `gate`, the name of a CTE of the same statement, they are written once for each of its
 * rows: a statement that writes a status and its events writes them only if the status lands.
 */
export function insertEventsSql(param: number, gate?: string): string {
  return `INSERT INTO events (tenant_id, cluster_id, node_id, type, reason, message)
          SELECT v.tenant_id, v.cluster_id, v.node_id, v.type, v.reason, v.message
            FROM jsonb_to_recordset($${param}::jsonb)
                   AS v(ord int, tenant_id uuid, cluster_id uuid, node_id uuid, type text, reason text, message text)
           ${gate ? `CROSS JOIN ${gate}` : ''}
           ORDER BY v.ord`;
}

/** The parameter `insertEventsSql` reads. */
export function eventsParam(rows: NewEvent[]): string {
  return JSON.stringify(
    rows.map((r, ord) => ({
      ord,
      tenant_id: r.tenantId,
      cluster_id: r.clusterId,
      node_id: r.nodeId,
      type: r.type,
      reason: r.reason,
      message: r.message,
    })),
  );
}

@Injectable()
export class EventsRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(EventEntity);
  }

  async add(e: NewEvent, tx?: Tx): Promise<void> {
    await this.addMany([e], tx);
  }

  /** Several events in one statement; their ids follow the order given. */
  async addMany(rows: NewEvent[], tx?: Tx): Promise<void> {
    if (rows.length > 0) await (tx ?? this.db.manager).query(insertEventsSql(1), [eventsParam(rows)]);
  }

  /** A cluster's events, newest first, before an event id (the page cursor). */
  forCluster(clusterId: string, limit: number, beforeId?: string): Promise<EventEntity[]> {
    const qb = this.repo().createQueryBuilder('e').where('e.cluster_id = :clusterId', { clusterId });
    if (beforeId !== undefined) qb.andWhere('e.id < :beforeId', { beforeId });
    return qb.orderBy('e.id', 'DESC').limit(limit).getMany();
  }

  /**
   * A tenant's events (of one cluster, or all) after `afterId`, oldest first, plus those of the
   * last `recentSeconds` after `floorId` whatever their id: an event whose transaction committed
   * after a later one's is still seen (the caller skips what it has sent).
   */
  since(
    tenantId: string,
    clusterId: string | undefined,
    q: { floorId: string; afterId: string; recentSeconds: number; limit: number },
  ): Promise<EventEntity[]> {
    const { floorId, afterId, recentSeconds, limit } = q;
    const qb = this.repo()
      .createQueryBuilder('e')
      .where('e.tenant_id = :tenantId', { tenantId })
      .andWhere(`e.id > :floorId AND (e.id > :afterId OR e.created_at > now() - make_interval(secs => :recent))`, {
        floorId,
        afterId,
        recent: recentSeconds,
      });
    if (clusterId !== undefined) qb.andWhere('e.cluster_id = :clusterId', { clusterId });
    return qb.orderBy('e.id', 'ASC').limit(limit).getMany();
  }

  /** The newest event id of a tenant (of one cluster, or all); '0' when there is none. */
  async newestId(tenantId: string, clusterId?: string): Promise<string> {
    const qb = this.repo()
      .createQueryBuilder('e')
      .select('MAX(e.id)', 'max')
      .where('e.tenant_id = :tenantId', { tenantId });
    if (clusterId !== undefined) qb.andWhere('e.cluster_id = :clusterId', { clusterId });
    const row = await qb.getRawOne<{ max: string | null }>();
    return row?.max ?? '0';
  }

  async removeForCluster(tx: Tx, clusterId: string): Promise<void> {
    await this.repo(tx).delete({ clusterId });
  }

  /**
   * Deletes up to `limit` events created before `before`, oldest first; answers how many went.
   * Rows another pruner holds are skipped rather than waited for.
   */
  async removeOlderThan(before: Date, limit: number): Promise<number> {
    const [, affected] = (await this.db.manager.query(
      `DELETE FROM events WHERE id IN (
         SELECT id FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    )) as [unknown, number];
    return affected;
  }

  /**
   * Up to `limit` ids of clusters that have events, in order, after `after`. Walks the
   * (cluster_id, id) index one cluster at a time, so it reads a few pages per cluster however
   * many events each has.
   */
  async clustersWithEvents(after: string | undefined, limit: number): Promise<string[]> {
    const first = after === undefined ? 'TRUE' : 'cluster_id > $2';
    const rows = (await this.db.manager.query(
      `WITH RECURSIVE c(cluster_id) AS (
         (SELECT cluster_id FROM events WHERE ${first} ORDER BY cluster_id LIMIT 1)
         UNION ALL
         SELECT (SELECT e.cluster_id FROM events e WHERE e.cluster_id > c.cluster_id ORDER BY e.cluster_id LIMIT 1)
         FROM c WHERE c.cluster_id IS NOT NULL
       )
       SELECT cluster_id FROM c WHERE cluster_id IS NOT NULL LIMIT $1`,
      after === undefined ? [limit] : [limit, after],
    )) as { cluster_id: string }[];
    return rows.map((r) => r.cluster_id);
  }

  /** The newest event of the cluster beyond its newest `keep`, if it has that many. */
  async newestBeyond(clusterId: string, keep: number): Promise<string | undefined> {
    const rows = (await this.db.manager.query(
      `SELECT id FROM events WHERE cluster_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1`,
      [clusterId, keep],
    )) as { id: string }[];
    return rows[0]?.id;
  }

  /** Deletes up to `limit` of the cluster's events with ids up to `maxId`, oldest first. */
  async removeForClusterUpTo(clusterId: string, maxId: string, limit: number): Promise<number> {
    const [, affected] = (await this.db.manager.query(
      `DELETE FROM events WHERE id IN (
         SELECT id FROM events WHERE cluster_id = $1 AND id <= $2 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [clusterId, maxId, limit],
    )) as [unknown, number];
    return affected;
  }
}
