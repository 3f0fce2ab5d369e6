import { Injectable } from '@nestjs/common';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { Database } from '../common/database.js';
import { FloatingIpEntity, VpcEntity } from '../networks/network.entities.js';
import { NodeEntity } from '../nodes/node.entity.js';

/** What one pass over a node reads of the database before it acts. */
export interface NodePassContext {
  node: NodeEntity;
  /** Null once the cluster row is gone (only the delete path runs then). */
  cluster: ClusterEntity | null;
  vpc: VpcEntity | null;
  /** The cluster's floating IP (its endpoint), if it has one. */
  floatingIp: FloatingIpEntity | null;
}

/** What one pass over a cluster reads of the database before it acts. */
export interface ClusterPassContext {
  cluster: ClusterEntity;
  /** Its nodes, masters first, each role by ordinal. */
  nodes: NodeEntity[];
  vpc: VpcEntity | null;
  /** Its floating IP (its endpoint), if it has one. */
  floatingIp: FloatingIpEntity | null;
}

type Row = Record<string, unknown>;

/** The columns of one entity in a joined select, under `alias`, and how to make it from a row. */
interface EntityRead<T> {
  select: string;
  /** The entity of a row; null when a left join found none. */
  read(row: Row): T | null;
}

/**
 * The reads a reconciler's pass starts from, each in one query: a node with its cluster, VPC and
 * floating IP; a cluster with its nodes. They run at every pass, so their statements are written
 * once and their rows made into entities directly: built and hydrated by TypeORM's query builder,
 * the same joined read cost the worker more than twice the CPU. Every column of each entity is
 * read, as `findOneBy` would. It lives beside the reconcilers, its only readers, because it joins
 * rows of modules that may not import one another.
 */
@Injectable()
export class PassContextRepository {
  private statements?: { node: string; cluster: string; reads: ReturnType<PassContextRepository['makeReads']> };

  constructor(private readonly db: Database) {}

  /** A node with its cluster, the cluster's VPC and floating IP. */
  async node(nodeId: string): Promise<NodePassContext | null> {
    const { node: sql, reads } = this.prepared();
    const [row]: Row[] = await this.db.manager.query(sql, [nodeId]);
    if (!row) return null;
    return {
      node: reads.node.read(row)!,
      cluster: reads.cluster.read(row),
      vpc: reads.vpc.read(row),
      floatingIp: reads.floatingIp.read(row),
    };
  }

  /** A cluster with its nodes, its VPC and floating IP. */
  async cluster(clusterId: string): Promise<ClusterPassContext | null> {
    const { cluster: sql, reads } = this.prepared();
    const rows: Row[] = await this.db.manager.query(sql, [clusterId]);
    if (rows.length === 0) return null;
    return {
      cluster: reads.cluster.read(rows[0])!,
      nodes: rows.flatMap((r) => reads.node.read(r) ?? []),
      vpc: reads.vpc.read(rows[0]),
      floatingIp: reads.floatingIp.read(rows[0]),
    };
  }

  private prepared() {
    if (!this.statements) {
      const reads = this.makeReads();
      const columns = [reads.node, reads.cluster, reads.vpc, reads.floatingIp].map((r) => r.select).join(', ');
      // A tenant's floating IP, never a VPC router's address (as FloatingIpsRepository.findForTenant).
      const records = `LEFT JOIN vpcs v ON v.id = c.vpc_id
        LEFT JOIN floating_ips f ON f.id = c.floating_ip_id AND f.tenant_id = c.tenant_id AND f.vpc_id IS NULL`;
      this.statements = {
        reads,
        node: `SELECT ${columns} FROM nodes n LEFT JOIN clusters c ON c.id = n.cluster_id ${records} WHERE n.id = $1`,
        cluster: `SELECT ${columns} FROM clusters c ${records} LEFT JOIN nodes n ON n.cluster_id = c.id
                   WHERE c.id = $1 ORDER BY n.role ASC, n.ordinal ASC`,
      };
    }
    return this.statements;
  }

  private makeReads() {
    return {
      node: this.entityRead(NodeEntity, 'n'),
      cluster: this.entityRead(ClusterEntity, 'c'),
      vpc: this.entityRead(VpcEntity, 'v'),
      floatingIp: this.entityRead(FloatingIpEntity, 'f'),
    };
  }

  /**
   * Reads every column of the entity as its property. The driver already gives what TypeORM would
   * (dates for timestamps, parsed JSON); the entities here have no transformers.
   */
  private entityRead<T extends object>(entity: new () => T, alias: string): EntityRead<T> {
    const metadata = this.db.dataSource.getMetadata(entity);
    const columns = metadata.columns.map((c) => ({ property: c.propertyName, key: `${alias}.${c.propertyName}` }));
    const primary = `${alias}.${metadata.primaryColumns[0].propertyName}`;
    return {
      select: metadata.columns.map((c) => `${alias}.${c.databaseName} AS "${alias}.${c.propertyName}"`).join(', '),
      read(row) {
        if (row[primary] === null || row[primary] === undefined) return null;
        const out = new entity() as Record<string, unknown>;
        for (const c of columns) out[c.property] = row[c.key];
        return out as T;
      },
    };
  }
}
