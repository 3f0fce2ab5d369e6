import { Injectable } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { checkIfMatch, type IfMatch } from '../common/if-match.js';
import { EventsService } from '../events/events.service.js';
import { JobQueue } from '../jobs/job-types.js';
import type { ClusterEntity } from './cluster.entity.js';
import { ClusterCapacity } from './cluster-capacity.js';
import {
  type PatchWorkerPoolRequest,
  toWorkerPoolResponse,
  type WorkerPoolRequest,
  type WorkerPoolResponse,
} from './clusters.dto.js';
import { type ClusterSpecPatch, ClustersRepository } from './clusters.repository.js';
import {
  checkAutoscale,
  checkLabels,
  checkPoolName,
  checkTaints,
  DEFAULT_POOL,
  MAX_POOLS,
  type NodeSpec,
  poolNamed,
  poolTotals,
  type WorkerPool,
} from './worker-pools.js';

/**
 * A pool as the tenant gave it, checked and completed: the cluster's node size when it names
 * none, labels and taints as Kubernetes allows them. `field` prefixes the names in errors.
 */
export function poolFromRequest(body: WorkerPoolRequest, clusterSpec: NodeSpec, field: string): WorkerPool {
  checkPoolName(body.name, `${field}name`);
  checkAutoscale(body.autoscale, body.count, `${field}autoscale`);
  const pool: WorkerPool = {
    name: body.name,
    count: body.count,
    nodeSpec: body.nodeSpec
      ? { vcpus: body.nodeSpec.vcpus, memoryMiB: body.nodeSpec.memoryMiB, diskGiB: body.nodeSpec.diskGiB }
      : { ...clusterSpec },
    labels: checkLabels(body.labels, `${field}labels`),
    taints: checkTaints(body.taints, `${field}taints`),
  };
  if (body.autoscale) pool.autoscale = { ...body.autoscale };
  return pool;
}

/** The pools of a cluster created with `workers: N` (or a PATCH of `workers` on a cluster without pools). */
export function defaultPool(count: number, clusterSpec: NodeSpec): WorkerPool {
  return { name: DEFAULT_POOL, count, nodeSpec: { ...clusterSpec }, labels: {}, taints: [] };
}

export function checkPoolNames(pools: readonly WorkerPool[], field: string): void {
  if (pools.length > MAX_POOLS) throw DomainError.validation(field, `a cluster has at most ${MAX_POOLS} worker pools`);
  const seen = new Set<string>();
  pools.forEach((p, i) => {
    if (seen.has(p.name)) throw DomainError.validation(`${field}[${i}].name`, `pool "${p.name}" is named twice`);
    seen.add(p.name);
  });
}

/**
 * A cluster's worker pools through the API: list, add, change (count, labels, taints,
 * autoscaling), remove. Each change is checked against the tenant's quota and the storage pool
 * like a scale, raises the cluster's generation and is carried out by its reconciler (a removed
 * pool's nodes leave as in a scale-down).
 */
@Injectable()
export class WorkerPoolsService {
  constructor(
    private readonly db: Database,
    private readonly clusters: ClustersRepository,
    private readonly capacity: ClusterCapacity,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
  ) {}

  /**
   * Writes a new declared size (masters and pools) once quota and storage allow it; `extra` is
   * written with it. Returns whether the declared size changed.
   */
  async declare(
    tx: Tx,
    cluster: ClusterEntity,
    next: { masters: number; pools: WorkerPool[] },
    extra: ClusterSpecPatch = {},
  ): Promise<boolean> {
    const totals = poolTotals(next.pools);
    await this.capacity.reserveChange(tx, cluster, { masters: next.masters, ...totals });
    const changed =
      next.masters !== cluster.masters || JSON.stringify(next.pools) !== JSON.stringify(cluster.workerPools);
    await this.clusters.update(
      cluster.id,
      {
        masters: next.masters,
        workerPools: next.pools,
        ...totals,
        generation: cluster.generation + (changed ? 1 : 0),
        ...extra,
      },
      tx,
    );
    return changed;
  }

  async list(auth: AuthContext, clusterId: string): Promise<{ items: WorkerPoolResponse[] }> {
    const [view] = await this.clusters.views(tenantOf(auth), { id: clusterId });
    if (!view) throw DomainError.notFound('cluster', clusterId);
    return { items: view.cluster.workerPools.map((p) => toWorkerPoolResponse(p, view.nodes)) };
  }

  async add(
    auth: AuthContext,
    clusterId: string,
    body: WorkerPoolRequest,
    ifMatch?: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.change(auth, clusterId, body.name, ifMatch, (cluster) => {
      if (cluster.workerPools.some((p) => p.name === body.name))
        throw DomainError.conflict(`cluster "${cluster.name}" already has a worker pool named "${body.name}"`, {
          field: 'name',
        });
      if (cluster.workerPools.length >= MAX_POOLS)
        throw DomainError.unprocessable(`a cluster has at most ${MAX_POOLS} worker pools`, { field: 'name' });
      const pool = poolFromRequest(body, cluster, '');
      return {
        pools: [...cluster.workerPools, pool],
        event: ['PoolAdded', `worker pool ${pool.name} added: ${pool.count} node(s)`],
      };
    });
  }

  async patch(
    auth: AuthContext,
    clusterId: string,
    name: string,
    body: PatchWorkerPoolRequest,
    ifMatch?: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.change(auth, clusterId, name, ifMatch, (cluster) => {
      const pool = poolNamed(cluster.workerPools, name);
      const next: WorkerPool = { ...pool };
      if (body.count !== undefined) next.count = body.count;
      if (body.labels !== undefined) next.labels = checkLabels(body.labels, 'labels');
      if (body.taints !== undefined) next.taints = checkTaints(body.taints, 'taints');
      if (body.autoscale === null) delete next.autoscale;
      else if (body.autoscale !== undefined) {
        checkAutoscale(body.autoscale, next.count, 'autoscale');
        next.autoscale = { ...body.autoscale };
      }
      const what = [
        body.count !== undefined && body.count !== pool.count ? `count ${pool.count} → ${body.count}` : null,
        body.labels !== undefined ? 'labels' : null,
        body.taints !== undefined ? 'taints' : null,
        body.autoscale !== undefined ? 'autoscale' : null,
      ].filter(Boolean);
      return {
        pools: cluster.workerPools.map((p) => (p.name === name ? next : p)),
        event: ['PoolChanged', `worker pool ${name} changed: ${what.join(', ') || 'nothing'}`],
      };
    });
  }

  async remove(auth: AuthContext, clusterId: string, name: string, ifMatch?: IfMatch): Promise<WorkerPoolResponse> {
    return this.change(auth, clusterId, name, ifMatch, (cluster) => {
      poolNamed(cluster.workerPools, name);
      return {
        pools: cluster.workerPools.filter((p) => p.name !== name),
        event: ['PoolRemoved', `worker pool ${name} removed: its nodes leave`],
        removed: true,
      };
    });
  }

  /** One change of a cluster's pools, under the cluster's lock; answers the pool as it is now. */
  private async change(
    auth: AuthContext,
    clusterId: string,
    name: string,
    ifMatch: IfMatch,
    decide: (cluster: ClusterEntity) => { pools: WorkerPool[]; event: [string, string]; removed?: boolean },
  ): Promise<WorkerPoolResponse> {
    const tenantId = tenantOf(auth);
    let before: WorkerPool | undefined;
    let removed = false;
    await this.db.transaction(async (tx) => {
      const cluster = await this.clusters.lock(tx, clusterId);
      if (!cluster || cluster.tenantId !== tenantId) throw DomainError.notFound('cluster', clusterId);
      checkIfMatch(ifMatch, cluster.generation, `cluster "${cluster.name}"`);
      if (cluster.deletingAt) throw DomainError.conflict(`cluster "${cluster.name}" is being deleted`);
      before = cluster.workerPools.find((p) => p.name === name);
      const decided = decide(cluster);
      removed = decided.removed ?? false;
      const changed = await this.declare(tx, cluster, { masters: cluster.masters, pools: decided.pools });
      if (changed) await this.events.normal({ tenantId, clusterId }, decided.event[0], decided.event[1], tx);
    });
    await this.jobs.nudge('cluster.reconcile', { clusterId }, { resourceKey: clusterId });
    if (removed && before) return toWorkerPoolResponse({ ...before, count: 0 }, []);
    const { items } = await this.list(auth, clusterId);
    const now = items.find((p) => p.name === name);
    if (!now) throw DomainError.notFound('worker pool', name);
    return now;
  }
}
