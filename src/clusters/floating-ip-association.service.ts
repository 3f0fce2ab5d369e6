import { Injectable } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, isUniqueViolation, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { EventsService } from '../events/events.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import type { FloatingIpEntity } from '../networks/network.entities.js';
import { type FloatingIpResponse, toFloatingIpResponse } from '../networks/networks.dto.js';
import type { ClusterEntity } from './cluster.entity.js';
import { ClustersRepository } from './clusters.repository.js';

/**
 * Moves a tenant's floating IP between its clusters, or takes it from its cluster: both sides of
 * the link (`floating_ips.cluster_id`, `clusters.floating_ip_id`) change in one transaction, and
 * the clusters' reconcilers move the endpoint.
 *
 * Locks are taken floating IP first, then clusters in id order: the order cluster deletion
 * (floating IP, then cluster) and cluster creation take them, so no two of these wait on each other.
 */
@Injectable()
export class FloatingIpAssociationService {
  constructor(
    private readonly db: Database,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly clusters: ClustersRepository,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  async setCluster(auth: AuthContext, id: string, clusterId: string | null): Promise<FloatingIpResponse> {
    const tenantId = tenantOf(auth);
    const target = clusterId?.toLowerCase() ?? null;
    let changed: { ip: FloatingIpEntity; affected: string[] };
    try {
      changed = await this.db.transaction(async (tx) => {
        const ip = await this.floatingIps.lockForTenant(tx, tenantId, id);
        if (!ip) throw DomainError.notFound('floating IP', id);
        if (ip.clusterId === target) return { ip, affected: [] };
        // Another tenant's cluster is answered like a missing one, and never locked.
        if (target && !(await this.clusters.findForTenant(tenantId, target, tx)))
          throw DomainError.validation('clusterId', `cluster ${target} not found`);
        const locked = await this.lockClusters(tx, [ip.clusterId, target]);
        const from = ip.clusterId ? locked.get(ip.clusterId) : undefined;
        const to = target ? locked.get(target) : undefined;
        if (target) this.checkTarget(tenantId, target, to, ip.address);
        const routerNetwork = to ? await this.floatingIps.otherProviderNetwork(tx, to.vpcId, ip) : undefined;
        if (routerNetwork)
          throw DomainError.unprocessable(
            `clusterId: ${ip.address} is not on the provider network of the cluster's VPC (${routerNetwork})`,
            { field: 'clusterId', providerNetwork: routerNetwork },
          );
        if (from?.deletingAt) {
          throw DomainError.conflict(
            `floating IP ${ip.address} belongs to cluster "${from.name}", which is being deleted; it is released when the cluster is gone`,
          );
        }
        const message = to
          ? `floating IP ${ip.address} is now the endpoint of cluster "${to.name}"`
          : `floating IP ${ip.address} released`;
        // Release before associating: uq_clusters_floating_ip holds at every statement.
        if (from && from.floatingIpId === ip.id) {
          await this.clusters.update(from.id, { floatingIpId: null, generation: from.generation + 1 }, tx);
          await this.events.normal(
            { tenantId, clusterId: from.id },
            'FloatingIpReleased',
            `${message}; this cluster has no endpoint until one is associated`,
            tx,
          );
        }
        if (to) {
          await this.clusters.update(to.id, { floatingIpId: ip.id, generation: to.generation + 1 }, tx);
          await this.events.normal(
            { tenantId, clusterId: to.id },
            'FloatingIpAssociated',
            from ? `${message} (moved from cluster "${from.name}")` : message,
            tx,
          );
        }
        await this.floatingIps.setCluster(tx, ip.id, target);
        return {
          ip: { ...ip, clusterId: target },
          affected: [from?.id, to?.id].filter((c): c is string => c !== undefined),
        };
      });
    } catch (err) {
      // A cluster naming this address while the address names another cluster: refused, not a 500.
      if (isUniqueViolation(err, 'uq_clusters_floating_ip'))
        throw DomainError.conflict('that floating IP is already the endpoint of another cluster', {
          field: 'clusterId',
        });
      throw err;
    }
    for (const c of changed.affected) {
      await this.jobs.nudge('cluster.reconcile', { clusterId: c }, { resourceKey: c });
    }
    return toFloatingIpResponse(changed.ip);
  }

  /** Locks the named clusters in id order (a fixed order, so two moves never deadlock). */
  private async lockClusters(tx: Tx, ids: (string | null)[]): Promise<Map<string, ClusterEntity>> {
    const locked = new Map<string, ClusterEntity>();
    const unique = [...new Set(ids.filter((i): i is string => i !== null))].sort();
    for (const id of unique) {
      const cluster = await this.clusters.lock(tx, id);
      if (cluster) locked.set(id, cluster);
    }
    return locked;
  }

  private checkTarget(tenantId: string, id: string, to: ClusterEntity | undefined, address: string): void {
    // Deleted between the look-up and the lock.
    if (!to || to.tenantId !== tenantId) throw DomainError.validation('clusterId', `cluster ${id} not found`);
    if (to.deletingAt) {
      throw DomainError.conflict(`cluster "${to.name}" is being deleted`, { field: 'clusterId' });
    }
    if (to.floatingIpId !== null) {
      throw DomainError.conflict(
        `cluster "${to.name}" already has a floating IP (${to.floatingIpId}); release it first to give it ${address}`,
        { field: 'clusterId' },
      );
    }
  }
}
