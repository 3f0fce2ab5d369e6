import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import type { HostAllocation } from '../hypervisor/hosts.dto.js';
import { NodeEntity } from './node.entity.js';
import { type NodeStatusChange, type NodeStatusColumns, statusColumns } from './node-status.js';

/** The desired-state fields of a node; its status changes only through `patchStatus`. */
export type NodeSpecPatch = Partial<
  Pick<NodeEntity, 'deleteRequestedAt' | 'deleteReason' | 'replaceRequestedAt' | 'address' | 'certificateExpiresAt'>
>;

/** What a cluster's summary (ready count, usage) needs of each of its nodes. */
export type NodeSummary = Pick<NodeEntity, 'id' | 'clusterId' | 'phase' | 'pool' | 'deleteRequestedAt' | 'usage'>;

@Injectable()
export class NodesRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(NodeEntity);
  }

  insert(tx: Tx, row: Partial<NodeEntity>): Promise<NodeEntity> {
    return this.repo(tx).save(this.repo(tx).create({ phase: 'Pending', conditions: [], statusVersion: 0, ...row }));
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
   * condition types and can never drop another's. `node` is updated in place to what was written. Returns false when
   * nothing needed to change or the node is gone.
   */
  async patchStatus(node: NodeEntity, change: NodeStatusChange): Promise<boolean> {
    const compute = (current: NodeEntity) => {
      const patch = typeof change === 'function' ? change(current) : change;
      return patch ? statusColumns(current, patch) : {};
    };
    // Optimistic first: one statement in the common case, where nobody else wrote meanwhile.
    const columns = compute(node);
    if (Object.keys(columns).length === 0) return false;
    if (await this.writeStatus(this.db.manager, node, columns)) return true;
    // Someone did: compute the change again on the row as it is, holding it until written.
    return this.db.transaction(async (tx) => {
      const current = await this.lock(tx, node.id);
      if (!current) return false;
      const again = compute(current);
      Object.assign(node, current);
      if (Object.keys(again).length === 0) return false;
      if (!(await this.writeStatus(tx, node, again)))
        throw new Error(`the status of node ${node.id} changed under its lock`);
      return true;
    });
  }

  /** The conditional write itself; on success `node` holds what was written. */
  private async writeStatus(tx: Tx, node: NodeEntity, columns: NodeStatusColumns): Promise<boolean> {
    const result = await this.repo(tx)
      .createQueryBuilder()
      .update(NodeEntity)
      .set({ ...columns, statusVersion: () => 'status_version + 1' })
      .where('id = :id AND status_version = :version', { id: node.id, version: node.statusVersion })
      .execute();
    if (result.affected !== 1) return false;
    Object.assign(node, columns, { statusVersion: node.statusVersion + 1 });
    return true;
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

  async maxOrdinal(tx: Tx, clusterId: string, role: string): Promise<number> {
    const row = await this.repo(tx)
      .createQueryBuilder('n')
      .select('COALESCE(MAX(n.ordinal), -1)', 'max')
      .where('n.cluster_id = :clusterId AND n.role = :role', { clusterId, role })
      .getRawOne<{ max: number }>();
    return Number(row?.max ?? -1);
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

  /** Per host, how many of this cluster's masters and workers run there. */
  async clusterSpread(tx: Tx, clusterId: string): Promise<Map<string, { masters: number; workers: number }>> {
    const rows = await this.repo(tx)
      .createQueryBuilder('n')
      .select('n.host_id', 'hostId')
      .addSelect(`SUM(CASE WHEN n.role = 'master' THEN 1 ELSE 0 END)`, 'masters')
      .addSelect(`SUM(CASE WHEN n.role = 'worker' THEN 1 ELSE 0 END)`, 'workers')
      .where('n.cluster_id = :clusterId AND n.host_id IS NOT NULL', { clusterId })
      .groupBy('n.host_id')
      .getRawMany<{ hostId: string; masters: string; workers: string }>();
    return new Map(rows.map((r) => [r.hostId, { masters: Number(r.masters), workers: Number(r.workers) }]));
  }
}
