import type { ClusterPhase } from './cluster.entity.js';

/** A node as the cluster reconciler sees it. */
export interface PlanNode {
  id: string;
  role: 'master' | 'worker';
  /** A worker's pool; null for masters. */
  pool: string | null;
  ready: boolean;
  /** Has a VM (past Provisioning). */
  provisioned: boolean;
  unhealthy: boolean;
  deleting: boolean;
  /**
   * Being removed while its host is unreachable: its VM is fenced when the host returns. It no
   * longer holds the cluster back (its replacement runs elsewhere).
   */
  fenced?: boolean;
  replaceRequested: boolean;
  replacesNodeId: string | null;
  createdAt: number;
  /** Added to the cluster (not replacing anything) and not Ready yet, ever. */
  joining?: boolean;
  /** Runs another version than the cluster declares: a rolling upgrade replaces it. */
  outdated?: boolean;
}

export interface PlanInput {
  masters: number;
  /** The worker pools as declared: each pool's name and count. */
  pools: { name: string; count: number }[];
  deleting: boolean;
  nodes: PlanNode[];
  /** The cluster has been Running before (so a shortfall is Degraded or Updating, not Provisioning). */
  wasRunning: boolean;
  /** Declared size differs from what was last reached (a scale is in progress). */
  scaling: boolean;
  /** A rolling upgrade: new worker nodes at once per pool (default 1); masters go one by one. */
  maxSurge?: number;
}

export type PlanAction =
  | { kind: 'create'; role: 'master'; replaces?: string }
  | { kind: 'create'; role: 'worker'; pool: string; replaces?: string }
  | { kind: 'delete'; nodeId: string; reason: string }
  | { kind: 'finalize' };

export interface Plan {
  actions: PlanAction[];
  phase: ClusterPhase;
  conditions: { type: string; status: 'True' | 'False'; reason: string; message: string }[];
  /** Nodes that need their own reconcile pass now. */
  nodesToReconcile: string[];
  settled: boolean;
}

/** Delete policy: unhealthy or unready first, then the newest. */
function byDeletePriority(a: PlanNode, b: PlanNode): number {
  const score = (n: PlanNode) => (n.unhealthy ? 0 : n.ready ? 2 : 1);
  return score(a) - score(b) || b.createdAt - a.createdAt;
}

/**
 * The cluster reconciler's decisions, as a pure function of desired and observed state. Masters
 * change one at a time, adding before removing, and only while every other master is ready;
 * workers are created together once the control plane answers; replacements surge (the new
 * node first, the old one removed when the new one is ready).
 */
export function planCluster(input: PlanInput): Plan {
  const actions: PlanAction[] = [];
  const live = input.nodes.filter((n) => !n.deleting);
  const deletingNodes = input.nodes.filter((n) => n.deleting && !n.fenced);
  const nodesToReconcile = input.nodes.filter((n) => n.deleting || !n.ready).map((n) => n.id);

  if (input.deleting) {
    for (const n of live) actions.push({ kind: 'delete', nodeId: n.id, reason: 'cluster deleted' });
    if (input.nodes.length === 0) actions.push({ kind: 'finalize' });
    return {
      actions,
      phase: 'Deleting',
      conditions: [
        { type: 'Ready', status: 'False', reason: 'Deleting', message: `${input.nodes.length} node(s) left to remove` },
      ],
      nodesToReconcile: input.nodes.map((n) => n.id),
      settled: input.nodes.length === 0,
    };
  }

  const liveIds = new Set(live.map((n) => n.id));
  // A replacement holds no slot of its own while the node it replaces still exists.
  const surge = live.filter((n) => n.replacesNodeId !== null && liveIds.has(n.replacesNodeId));
  const slotHolders = live.filter((n) => !surge.includes(n));

  for (const r of surge) {
    if (r.ready) actions.push({ kind: 'delete', nodeId: r.replacesNodeId!, reason: `replaced by a new node` });
  }

  const byRole = (role: 'master' | 'worker') => slotHolders.filter((n) => n.role === role);
  const masters = byRole('master');
  const workers = byRole('worker');
  const declaredPools = new Set(input.pools.map((p) => p.name));
  const declaredWorkers = input.pools.reduce((sum, p) => sum + p.count, 0);
  const mastersChanging = deletingNodes.some((n) => n.role === 'master') || surge.some((n) => n.role === 'master');
  const allMastersReady = masters.every((m) => m.ready);
  const controlPlaneUp = masters.some((m) => m.ready);

  // Replacements: workers all at once, masters one at a time. An unhealthy master among others
  // that are all ready leaves first: it still counts as a member of the control plane's quorum,
  // so a new member added beside it would need one more live member than there is (etcd refuses
  // the addition). Once it is gone the missing master is made as in a scale-up.
  let masterReplaced = false;
  for (const n of slotHolders.filter((x) => x.replaceRequested && !surge.some((r) => r.replacesNodeId === x.id))) {
    if (n.role === 'worker') {
      // A replacement is made in its node's pool while that pool is still declared.
      if (declaredPools.has(n.pool ?? ''))
        actions.push({ kind: 'create', role: 'worker', pool: n.pool!, replaces: n.id });
    } else if (!masterReplaced && !mastersChanging && masters.filter((m) => m.id !== n.id).every((m) => m.ready)) {
      masterReplaced = true;
      if (n.unhealthy && masters.length >= 3)
        actions.push({ kind: 'delete', nodeId: n.id, reason: 'unhealthy: leaves before its replacement joins' });
      else actions.push({ kind: 'create', role: 'master', replaces: n.id });
    }
  }
  // A rolling upgrade: masters first, one at a time, the new one joining before the old one
  // leaves, and only while every master is ready; then each pool's workers, maxSurge at a time.
  // While a master is short the upgrade waits (condition UpToDate says why).
  const replacing = (id: string) =>
    surge.some((r) => r.replacesNodeId === id) || actions.some((a) => a.kind === 'create' && a.replaces === id);
  const outdatedMasters = masters.filter((m) => m.outdated);
  let upgradeWaits: string | undefined;
  if (outdatedMasters.length > 0) {
    // One master at a time: nothing new while a master joins or leaves.
    if (!mastersChanging && !masterReplaced) {
      if (!allMastersReady || masters.length !== input.masters)
        upgradeWaits = `waiting for ${input.masters} ready masters before replacing the next one`;
      else {
        const next = [...outdatedMasters].sort((a, b) => a.createdAt - b.createdAt)[0];
        if (!replacing(next.id)) {
          actions.push({ kind: 'create', role: 'master', replaces: next.id });
          masterReplaced = true;
        }
      }
    }
  } else if (live.some((n) => n.role === 'worker' && n.outdated)) {
    if (!allMastersReady || mastersChanging) upgradeWaits = 'waiting for every master to be ready';
    else
      for (const pool of input.pools) {
        const inFlight = surge.filter((r) => r.role === 'worker' && r.pool === pool.name).length;
        const room = Math.max(0, (input.maxSurge ?? 1) - inFlight);
        const next = workers
          .filter((n) => n.pool === pool.name && n.outdated && !replacing(n.id))
          .sort((a, b) => a.createdAt - b.createdAt)
          .slice(0, room);
        for (const n of next) actions.push({ kind: 'create', role: 'worker', pool: pool.name, replaces: n.id });
      }
  }
  const mastersChangingNow = mastersChanging || masterReplaced;

  if (!mastersChangingNow) {
    if (masters.length < input.masters && allMastersReady) actions.push({ kind: 'create', role: 'master' });
    else if (masters.length > input.masters && allMastersReady) {
      const victim = [...masters].sort(byDeletePriority)[0];
      actions.push({ kind: 'delete', nodeId: victim.id, reason: 'scaled down' });
    }
  }
  if (controlPlaneUp || masters.length === 0) {
    for (const pool of input.pools) {
      const members = workers.filter((n) => n.pool === pool.name);
      if (members.length < pool.count && controlPlaneUp) {
        for (let i = members.length; i < pool.count; i++)
          actions.push({ kind: 'create', role: 'worker', pool: pool.name });
      } else if (members.length > pool.count) {
        for (const victim of [...members].sort(byDeletePriority).slice(0, members.length - pool.count)) {
          actions.push({ kind: 'delete', nodeId: victim.id, reason: `pool ${pool.name} scaled down` });
        }
      }
    }
  }
  // The nodes of a pool that is no longer declared leave like a scale-down (surges included).
  for (const n of live.filter((x) => x.role === 'worker' && !declaredPools.has(x.pool ?? ''))) {
    if (!actions.some((a) => a.kind === 'delete' && a.nodeId === n.id))
      actions.push({ kind: 'delete', nodeId: n.id, reason: `pool ${n.pool} removed` });
  }

  const readyMasters = masters.filter((m) => m.ready).length;
  const readyWorkers = workers.filter((w) => w.ready).length;
  const infraReady = slotHolders.length > 0 && slotHolders.every((n) => n.provisioned);
  const cpReady = masters.length === input.masters && readyMasters === input.masters;
  const workersReady =
    input.pools.every((p) => workers.filter((n) => n.pool === p.name).length === p.count) &&
    workers.length === declaredWorkers &&
    readyWorkers === declaredWorkers;
  const outdated = live.filter((n) => n.outdated).length;
  const ready = cpReady && workersReady && deletingNodes.length === 0 && surge.length === 0 && outdated === 0;
  const conditions: Plan['conditions'] = [
    {
      type: 'InfrastructureReady',
      status: infraReady ? 'True' : 'False',
      reason: infraReady ? 'VirtualMachinesCreated' : 'Provisioning',
      message: `${slotHolders.filter((n) => n.provisioned).length}/${slotHolders.length} node VMs created`,
    },
    {
      type: 'ControlPlaneReady',
      status: cpReady ? 'True' : 'False',
      reason: cpReady ? 'MastersReady' : 'MastersNotReady',
      message: `${readyMasters}/${input.masters} masters ready`,
    },
    {
      type: 'WorkersReady',
      status: workersReady ? 'True' : 'False',
      reason: workersReady ? 'WorkersReady' : 'WorkersNotReady',
      message: `${readyWorkers}/${declaredWorkers} workers ready`,
    },
    {
      type: 'UpToDate',
      status: outdated === 0 ? 'True' : 'False',
      reason: outdated === 0 ? 'AtDeclaredVersion' : upgradeWaits ? 'UpgradeWaiting' : 'Upgrading',
      message:
        outdated === 0
          ? 'every node runs the declared version with current certificates'
          : `${live.length - outdated}/${live.length} nodes at the declared version and certificates${upgradeWaits ? `; ${upgradeWaits}` : ''}`,
    },
    {
      type: 'Ready',
      status: ready ? 'True' : 'False',
      reason: ready ? 'ClusterReady' : 'NotAtDeclaredSize',
      message: ready
        ? 'all nodes ready at the declared size'
        : `${readyMasters + readyWorkers}/${input.masters + declaredWorkers} nodes ready`,
    },
  ];
  const anyUnhealthy = live.some((n) => n.unhealthy);
  // Short only of nodes being added (after a scale-up), nothing lost or going: still Updating.
  const notReady = live.filter((n) => !n.ready);
  const onlyJoining = notReady.length > 0 && notReady.every((n) => n.joining) && deletingNodes.length === 0;
  const phase: ClusterPhase = ready
    ? 'Running'
    : !input.wasRunning
      ? input.nodes.length === 0 && actions.length === 0
        ? 'Pending'
        : 'Provisioning'
      : (input.scaling || onlyJoining || outdated > 0) && !anyUnhealthy
        ? 'Updating'
        : 'Degraded';
  return { actions, phase, conditions, nodesToReconcile, settled: ready && actions.length === 0 };
}
