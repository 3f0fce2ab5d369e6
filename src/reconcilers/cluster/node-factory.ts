import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import { ClustersRepository } from '../../clusters/clusters.repository.js';
import { Database, type Tx } from '../../common/database.js';
import { DomainError } from '../../common/domain-error.js';
import { APP_CONFIG } from '../../common/tokens.js';
import type { AppConfig } from '../../config/config.js';
import { EventsService } from '../../events/events.service.js';
import { HostsRepository } from '../../hypervisor/hosts.repository.js';
import { type HostSnapshot, placeNode } from '../../hypervisor/placement.js';
import { JobQueue } from '../../jobs/job-types.js';
import { VpcsService } from '../../networks/vpcs.service.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodesRepository } from '../../nodes/nodes.repository.js';
import { DEFAULT_POOL, nodeName } from '../../clusters/worker-pools.js';

function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${b[0].toString(16).padStart(2, '0')}:${b[1].toString(16).padStart(2, '0')}:${b[2].toString(16).padStart(2, '0')}`;
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
   * Places, addresses and records one new node, in one transaction: a master (`poolName` null)
   * at the cluster's node size, or a worker of the named pool at the pool's, with its labels
   * and taints. A pool gone meanwhile makes nothing.
   */
  async create(cluster: ClusterEntity, poolName: string | null, replaces?: string): Promise<NodeEntity | undefined> {
    const target = { tenantId: cluster.tenantId, clusterId: cluster.id };
    const role = poolName === null ? 'master' : 'worker';
    try {
      const node = await this.db.transaction(async (tx) => {
        const locked = await this.clusters.lock(tx, cluster.id);
        if (!locked || locked.deletingAt) return undefined;
        const pool = poolName === null ? undefined : locked.workerPools.find((p) => p.name === poolName);
        if (poolName !== null && !pool) return undefined;
        const spec = pool?.nodeSpec ?? { vcpus: locked.vcpus, memoryMiB: locked.memoryMiB, diskGiB: locked.diskGiB };
        // One transaction is one connection: its queries run one after another.
        const hosts = await this.hosts.list(tx);
        const allocations = await this.nodes.hostAllocations(tx);
        const spread = await this.nodes.clusterSpread(tx, cluster.id);
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
          clusterMasters: spread.get(h.id)?.masters ?? 0,
          clusterWorkers: spread.get(h.id)?.workers ?? 0,
        }));
        // A restored cluster's first master starts from the backup: it runs where the backup is stored.
        const restoreHost = await this.restoreHost(tx, locked, role);
        const placed = placeNode(
          restoreHost === undefined ? snapshot : snapshot.filter((h) => h.id === restoreHost),
          { ...spec, role },
          {
            cpuOvercommit: this.config.cpuOvercommit,
            memoryOvercommit: this.config.memoryOvercommit,
          },
        );
        if (!placed.ok)
          throw DomainError.unprocessable(
            restoreHost === undefined ? placed.reason : `the host holding the backup to restore from: ${placed.reason}`,
          );
        const ordinal = (await this.nodes.maxOrdinal(tx, cluster.id, role)) + 1;
        const name = nodeName(cluster.name, role, poolName, ordinal);
        const inserted = await this.nodes.insert(tx, {
          clusterId: cluster.id,
          tenantId: cluster.tenantId,
          name,
          ordinal,
          role,
          pool: poolName,
          version: locked.version,
          certificatesGeneration: locked.certificatesGeneration,
          labels: pool?.labels ?? {},
          taints: pool?.taints ?? [],
          hostId: placed.hostId,
          vcpus: spec.vcpus,
          memoryMiB: spec.memoryMiB,
          diskGiB: spec.diskGiB,
          mac: randomMac(),
          replacesNodeId: replaces ?? null,
        });
        const address = await this.vpcs.allocateAddress(tx, cluster.tenantId, cluster.vpcId, {
          kind: 'node',
          id: inserted.id,
        });
        await this.nodes.update(inserted.id, { address }, tx);
        await tx.query(
          `INSERT INTO volumes (tenant_id, pool_id, name, capacity_gib, owner_kind, owner_id, host_id) VALUES ($1, $2, $3, $4, 'node', $5, $6)`,
          [cluster.tenantId, cluster.storagePoolId, `${inserted.id}.qcow2`, spec.diskGiB, inserted.id, placed.hostId],
        );
        return { ...inserted, address };
      });
      if (!node) return undefined;
      await this.events.normal(
        { ...target, nodeId: node.id },
        'NodeCreated',
        `${role} ${node.name}${poolName && poolName !== DEFAULT_POOL ? ` (pool ${poolName})` : ''} placed on host ${node.hostId} with address ${node.address}${replaces ? ` (replaces ${replaces})` : ''}`,
      );
      await this.jobs.enqueue('node.reconcile', { nodeId: node.id }, { hostId: node.hostId!, resourceKey: node.id });
      return node;
    } catch (err) {
      if (err instanceof DomainError) {
        await this.events.warning(target, 'NodeNotCreated', `cannot create a ${role}: ${err.message}`);
        return undefined;
      }
      throw err;
    }
  }
}
