import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { eventsParam, insertEventsSql, type NewEvent } from '../events/events.repository.js';
import type { HostAllocation } from '../hypervisor/hosts.dto.js';
import { NodeEntity, type NodeRole } from './node.entity.js';
import { type NodeStatusChange, type NodeStatusColumns, statusColumns } from './node-status.js';

/** Each status column as `patchStatus` writes it. */
const STATUS_COLUMNS: Record<keyof NodeStatusColumns, { name: string; type: string; json?: boolean }> = {
  phase: { name: 'phase', type: 'varchar' },
  conditions: { name: 'conditions', type: 'jsonb', json: true },
  readyAt: { name: 'ready_at', type: 'timestamptz' },
  failingSince: { name: 'failing_since', type: 'timestamptz' },
  unhealthySince: { name: 'unhealthy_since', type: 'timestamptz' },
  lastHeartbeatAt: { name: 'last_heartbeat_at', type: 'timestamptz' },
  bootStartedAt: { name: 'boot_started_at', type: 'timestamptz' },
  usage: { name: 'usage', type: 'jsonb', json: true },
};

/** The desired-state fields of a node; its status changes only through `patchStatus`. */
export type NodeSpecPatch = Partial<
  Pick<NodeEntity, 'deleteRequestedAt' | 'deleteReason' | 'replaceRequestedAt' | 'address' | 'certificateExpiresAt'>
>;

/** A node to record: its spec and placement; its status starts empty. */
export type NewNode = Pick<
  NodeEntity,
  | 'id'
  | 'clusterId'
  | 'tenantId'
  | 'name'
  | 'ordinal'
  | 'role'
  | 'pool'
  | 'version'
  | 'certificatesGeneration'
  | 'labels'
  | 'taints'
  | 'hostId'
  | 'vcpus'
  | 'memoryMiB'
  | 'diskGiB'
  | 'address'
  | 'mac'
  | 'replacesNodeId'
>;

/** What a cluster's summary (ready count, usage) needs of each of its nodes. */
export type NodeSummary = Pick<NodeEntity, 'id' | 'clusterId' | 'phase' | 'pool' | 'deleteRequestedAt' | 'usage'>;

@Injectable()
export class NodesRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(NodeEntity);
  }

  /**
   * New nodes in one statement, each with the id its caller made for it (so that what refers to
   * it, its address, can be made first). Answers them as read back: Pending, no status yet.
   */
  async insertMany(tx: Tx, rows: NewNode[]): Promise<NodeEntity[]> {
    if (rows.length === 0) return [];
    const entities = rows.map((row) =>
      this.repo(tx).create({
        phase: 'Pending',
        conditions: [],
        statusVersion: 0,
        certificateExpiresAt: null,
        lastHeartbeatAt: null,
        readyAt: null,
        failingSince: null,
        unhealthySince: null,
        replaceRequestedAt: null,
        deleteRequestedAt: null,
        deleteReason: null,
        bootStartedAt: null,
        usage: null,
        ...row,
      }),
    );
    // TypeORM fills in what the database made (created_at, updated_at) from RETURNING.
    await this.repo(tx).insert(entities);
    return entities;
  }

  findById(id: string, tx?: Tx): Promise<NodeEntity | null> {
    return this.repo(tx).findOneBy({ id });
  }

  findByMacs(macs: string[]): Promise<NodeEntity[]> {
    if (macs.length === 0) return Promise.resolve([]);
    return this.repo().createQueryBuilder('n').where('n.mac = ANY(:macs::macaddr[])', { macs }).getMany();
  }

  findByIds(ids: string[]): Promise<NodeEntity[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.repo().createQueryBuilder('n').where('n.id = ANY(:ids::uuid[])', { ids }).getMany();
  }

  lock(tx: Tx, id: string): Promise<NodeEntity | null> {
    return this.repo(tx).createQueryBuilder('n').setLock('pessimistic_write').where('n.id = :id', { id }).getOne();
  }

  forCluster(clusterId: string, tx?: Tx): Promise<NodeEntity[]> {
    return this.repo(tx).find({ where: { clusterId }, order: { role: 'ASC', ordinal: 'ASC' } });
  }

  /**
   * The nodes of these clusters with only the columns a cluster's summary reads: whole rows
   * (conditions, timestamps) cost more to read and hydrate than the rest of a cluster list.
   */
  forHost(hostId: string): Promise<NodeEntity[]> {
    return this.repo().findBy({ hostId });
  }

  async update(id: string, patch: NodeSpecPatch, tx?: Tx): Promise<void> {
    await this.repo(tx).update({ id }, patch);
  }

  /**
   * Changes the node's status with optimistic concurrency: the write names the status version it
   * was computed from, and when another writer got there first, the change is computed again on
   * the fresh row, locked until written. A writer therefore touches only its own fields and
   * condition types and can never drop another's. `node` is updated in place to what was written.
   * The pass's `events` are written in the same statement as the status (or alone, when there is
   * nothing to change), so that they cost no round trip of their own. Returns false when nothing
   * needed to change or the node is gone.
   */
  async patchStatus(node: NodeEntity, change: NodeStatusChange, events: NewEvent[] = []): Promise<boolean> {
    const compute = (current: NodeEntity) => {
      const patch = typeof change === 'function' ? change(current) : change;
      return patch ? statusColumns(current, patch) : {};
    };
    // Optimistic first: one statement in the common case, where nobody else wrote meanwhile.
    const columns = compute(node);
    if (Object.keys(columns).length === 0) {
      await this.addEvents(this.db.manager, events);
      return false;
    }
    if (await this.writeStatus(this.db.manager, node, columns, events)) return true;
    // Someone did: compute the change again on the row as it is, holding it until written.
    return this.db.transaction(async (tx) => {
      const current = await this.lock(tx, node.id);
      if (current) Object.assign(node, current);
      const again = current ? compute(current) : {};
      if (Object.keys(again).length === 0) {
        await this.addEvents(tx, events);
        return false;
      }
      if (!(await this.writeStatus(tx, node, again, events)))
        throw new Error(`the status of node ${node.id} changed under its lock`);
      return true;
    });
  }

  /**
   * The conditional write itself, with the events it carries (written only if it lands); on
   * success `node` holds what was written.
   */
  private async writeStatus(
    tx: Tx,
    node: NodeEntity,
    columns: NodeStatusColumns,
    events: NewEvent[],
  ): Promise<boolean> {
    const params: unknown[] = [node.id, node.statusVersion];
    const sets = Object.entries(columns).map(([key, value]) => {
      const column = STATUS_COLUMNS[key as keyof NodeStatusColumns];
      params.push(column.json && value !== null ? JSON.stringify(value) : value);
      return `${column.name} = $${params.length}::${column.type}`;
    });
    let sql = `WITH written AS (
        UPDATE nodes SET ${sets.join(', ')}, status_version = status_version + 1, updated_at = now()
         WHERE id = $1 AND status_version = $2
        RETURNING 1)`;
    if (events.length > 0) {
      params.push(eventsParam(events));
      sql += `, told AS (${insertEventsSql(params.length, 'written')})`;
    }
    const rows: { n: number }[] = await tx.query(`${sql} SELECT count(*)::int AS n FROM written`, params);
    if (rows[0].n !== 1) return false;
    Object.assign(node, columns, { statusVersion: node.statusVersion + 1 });
    return true;
  }

  private async addEvents(tx: Tx, events: NewEvent[]): Promise<void> {
    if (events.length > 0) await tx.query(insertEventsSql(1), [eventsParam(events)]);
  }

  /** Marks nodes for removal, each with its reason, in one statement. */
  async requestDeletion(rows: { id: string; reason: string }[], at: Date): Promise<void> {
    if (rows.length === 0) return;
    await this.db.manager.query(
      `UPDATE nodes AS n SET delete_requested_at = $2, delete_reason = v.reason, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, reason text)
        WHERE n.id = v.id`,
      [JSON.stringify(rows), at],
    );
  }

  /** Heartbeats and usage of many healthy nodes, in one statement per thousand. */
  async recordHeartbeats(rows: { id: string; at: Date; usage: unknown }[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      await this.db.manager.query(
        `UPDATE nodes AS n SET last_heartbeat_at = v.at, usage = v.usage
           FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, at timestamptz, usage jsonb)
          WHERE n.id = v.id`,
        [JSON.stringify(chunk)],
      );
    }
  }

  async remove(tx: Tx, id: string): Promise<void> {
    await this.repo(tx).delete({ id });
  }

  /**
   * Per host, how many of this cluster's masters and workers run there, and the highest ordinal
   * of each role (-1: none): in one statement.
   */
  async clusterLayout(
    tx: Tx,
    clusterId: string,
  ): Promise<{ spread: Map<string, { masters: number; workers: number }>; maxOrdinal: Record<NodeRole, number> }> {
    const rows: { host_id: string | null; role: NodeRole; n: string; max: number }[] = await tx.query(
      `SELECT host_id, role, count(*) AS n, max(ordinal) AS max FROM nodes WHERE cluster_id = $1 GROUP BY host_id, role`,
      [clusterId],
    );
    const spread = new Map<string, { masters: number; workers: number }>();
    const maxOrdinal: Record<NodeRole, number> = { master: -1, worker: -1 };
    for (const r of rows) {
      maxOrdinal[r.role] = Math.max(maxOrdinal[r.role], Number(r.max));
      if (r.host_id === null) continue;
      const at = spread.get(r.host_id) ?? { masters: 0, workers: 0 };
      if (r.role === 'master') at.masters += Number(r.n);
      else at.workers += Number(r.n);
      spread.set(r.host_id, at);
    }
    return { spread, maxOrdinal };
  }

  async hostAllocations(tx?: Tx): Promise<Map<string, HostAllocation>> {
    const rows = await this.repo(tx)
      .createQueryBuilder('n')
      .select('n.host_id', 'hostId')
      .addSelect('SUM(n.vcpus)', 'vcpus')
      .addSelect('SUM(n.memory_mib)', 'memory')
      .addSelect('SUM(n.disk_gib)', 'disk')
      .addSelect('count(*)', 'nodes')
      .where('n.host_id IS NOT NULL')
      .groupBy('n.host_id')
      .getRawMany<{ hostId: string; vcpus: string; memory: string; disk: string; nodes: string }>();
    return new Map(
      rows.map((r) => [
        r.hostId,
        { vcpus: Number(r.vcpus), memoryMiB: Number(r.memory), diskGiB: Number(r.disk), nodes: Number(r.nodes) },
      ]),
    );
  }
}
