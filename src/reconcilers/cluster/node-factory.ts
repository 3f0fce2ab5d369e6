import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { Database, type Tx } from '../../common/database.js';
import { DomainError } from '../../common/domain-error.js';
import { APP_CONFIG } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import { type EventRecord, EventsService } from '../../events/events.service.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { type HostSnapshot, placeNode } from '../../hypervisor/placement.js';
import { JobQueue } from '../../jobs/job-types.js';
import { VpcsService } from '../../networks/vpcs.service.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { type NewNode, NodesRepository } from '../../nodes/nodes.repository.js';
import { DEFAULT_POOL, nodeName } from '../../clusters/worker-pools.js';

function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${b[0].toString(16).padStart(2, '0')}:${b[1].toString(16).padStart(2, '0')}:${b[2].toString(16).padStart(2, '0')}`;
}

/** A node a cluster pass asks for: a master (`pool` null) or a worker of a pool. */
export interface NodeRequest {
  pool: string | null;
  /** The node this one replaces. */
  replaces?: string;
}

/** Makes new nodes of a cluster: placed on a host, given a VPC address and a volume, recorded. */
@Injectable()
export class NodeFactory {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly hosts: HostsRepository,
    private readonly vpcs: VpcsService,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * The host a new master must run on: for a cluster restored from a backup, until it first ran,
   * the first master is made where the backup's volume is (the host that stored it), since it
   * reads the snapshot from there. Undefined: anywhere.
   */
  private async restoreHost(tx: Tx, cluster: ClusterEntity, role: 'master' | 'worker'): Promise<string | undefined> {
    if (role !== 'master' || !cluster.restoreBackupId || cluster.restoredAt) return undefined;
    // Masters are made one at a time until the first is ready: until then, each (a replacement
    // of a first master that failed included) is the one that restores.
    const ready: unknown[] = await tx.query(
      `SELECT 1 FROM nodes WHERE cluster_id = $1 AND role = 'master' AND phase = 'Ready' AND delete_requested_at IS NULL LIMIT 1`,
      [cluster.id],
    );
    if (ready.length > 0) return undefined;
    const rows: { host_id: string | null; phase: string }[] = await tx.query(
      `SELECT host_id, phase FROM backups WHERE id = $1`,
      [cluster.restoreBackupId],
    );
    if (!rows[0]?.host_id || rows[0].phase !== 'Succeeded')
      throw DomainError.unprocessable(`backup ${cluster.restoreBackupId} to restore from is gone`);
    return rows[0].host_id;
  }

  /**
   * Places, addresses and records new nodes of a cluster, all in one transaction: masters
   * (`pool` null) at the cluster's node size, workers of the named pool at the pool's, with its
   * labels and taints. Each is placed seeing the ones placed before it. A node whose pool is gone
   * meanwhile is not made; one that cannot be placed or addressed is said so (`NodeNotCreated`)
   * and the others are made all the same. Answers the nodes made, in the order asked.
   */
  async createMany(cluster: ClusterEntity, requests: NodeRequest[]): Promise<NodeEntity[]> {
    if (requests.length === 0) return [];
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    const made = await this.db.transaction(async (tx) => {
      const locked = await this.clusters.lock(tx, cluster.id);
      if (!locked || locked.deletingAt) return [];
      // One transaction is one connection: its queries run one after another.
      const hosts = await this.hosts.list(tx);
      const allocations = await this.nodes.hostAllocations(tx);
      const layout = await this.nodes.clusterLayout(tx, cluster.id);
      const snapshot: HostSnapshot[] = hosts.map((h) => ({
        id: h.id,
        name: h.name,
        schedulable: h.state === 'Ready' && !h.drained,
        cpus: h.cpus,
        memoryMiB: h.memoryMiB,
        allocatedVcpus: allocations.get(h.id)?.vcpus ?? 0,
        allocatedMemoryMiB: allocations.get(h.id)?.memoryMiB ?? 0,
        diskGiB: h.diskGiB,
        allocatedDiskGiB: allocations.get(h.id)?.diskGiB ?? 0,
        clusterMasters: layout.spread.get(h.id)?.masters ?? 0,
        clusterWorkers: layout.spread.get(h.id)?.workers ?? 0,
      }));
      const rows: NewNode[] = [];
      const events: EventRecord[] = [];
      for (const req of requests) {
        const role = req.pool === null ? 'master' : 'worker';
        const pool = req.pool === null ? undefined : locked.workerPools.find((p) => p.name === req.pool);
        if (req.pool !== null && !pool) continue;
        const spec = pool?.nodeSpec ?? { vcpus: locked.vcpus, memoryMiB: locked.memoryMiB, diskGiB: locked.diskGiB };
        try {
          // A restored cluster's first master starts from the backup: it runs where the backup is stored.
          const restoreHost = await this.restoreHost(tx, locked, role);
          const placed = placeNode(
            restoreHost === undefined ? snapshot : snapshot.filter((h) => h.id === restoreHost),
            { ...spec, role },
            { cpuOvercommit: this.config.cpuOvercommit, memoryOvercommit: this.config.memoryOvercommit },
          );
          if (!placed.ok)
            throw DomainError.unprocessable(
              restoreHost === undefined
                ? placed.reason
                : `the host holding the backup to restore from: ${placed.reason}`,
            );
          const id = randomUUID();
          // Neither raises a database error on refusal, so the transaction goes on for the others.
          const address = await this.vpcs.allocateAddress(tx, cluster.tenantId, cluster.vpcId, { kind: 'node', id });
          const ordinal = ++layout.maxOrdinal[role];
          rows.push({
            id,
            clusterId: cluster.id,
            tenantId: cluster.tenantId,
            name: nodeName(cluster.name, role, req.pool, ordinal),
            ordinal,
            role,
            pool: req.pool,
            version: locked.version,
            certificatesGeneration: locked.certificatesGeneration,
            labels: pool?.labels ?? {},
            taints: pool?.taints ?? [],
            hostId: placed.hostId,
            vcpus: spec.vcpus,
            memoryMiB: spec.memoryMiB,
            diskGiB: spec.diskGiB,
            address,
            mac: randomMac(),
            replacesNodeId: req.replaces ?? null,
          });
          // The nodes placed after this one see it on its host.
          const host = snapshot.find((h) => h.id === placed.hostId)!;
          host.allocatedVcpus += spec.vcpus;
          host.allocatedMemoryMiB += spec.memoryMiB;
          host.allocatedDiskGiB = (host.allocatedDiskGiB ?? 0) + spec.diskGiB;
          if (role === 'master') host.clusterMasters++;
          else host.clusterWorkers++;
          events.push({
            target: { ...target, nodeId: id },
            type: 'normal',
            reason: 'NodeCreated',
            message: `${role} ${rows.at(-1)!.name}${req.pool && req.pool !== DEFAULT_POOL ? ` (pool ${req.pool})` : ''} placed on host ${placed.hostId} with address ${address}${req.replaces ? ` (replaces ${req.replaces})` : ''}`,
          });
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          events.push({
            target,
            type: 'warning',
            reason: 'NodeNotCreated',
            message: `cannot create a ${role}: ${err.message}`,
          });
        }
      }
      const inserted = await this.nodes.insertMany(tx, rows);
      if (inserted.length > 0)
        await tx.query(
          `INSERT INTO volumes (tenant_id, pool_id, name, capacity_gib, owner_kind, owner_id, host_id)
           SELECT $1, $2, v.id::text || '.qcow2', v.capacity_gib, 'node', v.id, v.host_id
             FROM jsonb_to_recordset($3::jsonb) AS v(id uuid, capacity_gib integer, host_id uuid)`,
          [
            cluster.tenantId,
            cluster.storagePoolId,
            JSON.stringify(inserted.map((n) => ({ id: n.id, capacity_gib: n.diskGiB, host_id: n.hostId }))),
          ],
        );
      await this.events.recordAll(events, tx);
      return inserted;
    });
    for (const node of made)
      await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId: node.hostId!, resourceKey: node.id });
    return made;
  }
}
