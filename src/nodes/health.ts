import type { VmState } from '../hypervisor/backends/index.js';

/** Defaults a cluster's settings override. */
export const HEALTH_DEFAULTS = {
  nodeStartupTimeoutSeconds: 600,
  unhealthyTimeoutSeconds: 60,
  maxUnhealthy: '40%' as number | string,
  /** More remediations than this in the window means something else is wrong: back off. */
  maxRemediationsPerWindow: 3,
  remediationWindowSeconds: 600,
};

export interface NodeHealthInput {
  now: number;
  vmState: VmState;
  probe: { answered: boolean; ready: boolean } | undefined;
  bootStartedAt: number | null;
  readyAt: number | null;
  failingSince: number | null;
  startupTimeoutSeconds: number;
  unhealthyTimeoutSeconds: number;
}

export interface NodeHealth {
  /** The node should be remediated. */
  unhealthy: boolean;
  reason: string;
  /** When its checks started failing (kept while they keep failing). */
  failingSince: number | null;
  heartbeat: boolean;
}

/** Cluster API MachineHealthCheck semantics for one node. */
export function assessNode(i: NodeHealthInput): NodeHealth {
  if (i.bootStartedAt === null) return { unhealthy: false, reason: 'NotStarted', failingSince: null, heartbeat: false };
  if (i.vmState === 'absent')
    return { unhealthy: true, reason: 'VmMissing', failingSince: i.failingSince ?? i.now, heartbeat: false };
  if (i.vmState !== 'running')
    return {
      unhealthy: true,
      reason: `Vm${i.vmState[0].toUpperCase()}${i.vmState.slice(1)}`,
      failingSince: i.failingSince ?? i.now,
      heartbeat: false,
    };
  const answered = i.probe?.answered === true;
  const ready = answered && i.probe?.ready === true;
  if (ready) return { unhealthy: false, reason: 'Ready', failingSince: null, heartbeat: true };
  if (i.readyAt === null) {
    const late = i.now - i.bootStartedAt > i.startupTimeoutSeconds * 1000;
    return {
      unhealthy: late,
      reason: late ? 'StartupTimeout' : 'Starting',
      failingSince: late ? (i.failingSince ?? i.now) : null,
      heartbeat: answered,
    };
  }
  const since = i.failingSince ?? i.now;
  const expired = i.now - since > i.unhealthyTimeoutSeconds * 1000;
  return {
    unhealthy: expired,
    reason: answered ? 'NotReady' : 'NotAnswering',
    failingSince: since,
    heartbeat: answered,
  };
}

/** As in Cluster API, a percentage is scaled and rounded up (40% of 2 nodes allows 1). */
export function maxUnhealthyCount(setting: number | string, total: number): number {
  if (typeof setting === 'number') return setting;
  const pct = Number(setting.replace('%', ''));
  return Math.ceil((total * pct) / 100);
}

export interface RemediationNode {
  id: string;
  role: 'master' | 'worker';
  unhealthy: boolean;
  replaceRequested: boolean;
  deleting: boolean;
}

export type RemediationDecision =
  | { kind: 'replace'; nodeIds: string[] }
  | { kind: 'short-circuit'; unhealthy: number; allowed: number }
  | { kind: 'backoff'; recent: number }
  | { kind: 'none' };

/**
 * Which unhealthy nodes to replace now. Refuses when more than maxUnhealthy are unhealthy (a
 * network or host problem, not a node problem), backs off after repeated remediations, and
 * replaces a master only when the masters left healthy still form a quorum.
 */
export function planRemediation(input: {
  nodes: RemediationNode[];
  maxUnhealthy: number | string;
  paused: boolean;
  recentRemediations: number;
  maxRemediationsPerWindow: number;
}): RemediationDecision {
  if (input.paused) return { kind: 'none' };
  const live = input.nodes.filter((n) => !n.deleting);
  const unhealthy = live.filter((n) => n.unhealthy);
  if (unhealthy.length === 0) return { kind: 'none' };
  const allowed = maxUnhealthyCount(input.maxUnhealthy, live.length);
  if (unhealthy.length > allowed) return { kind: 'short-circuit', unhealthy: unhealthy.length, allowed };
  const candidates = unhealthy.filter((n) => !n.replaceRequested);
  if (candidates.length === 0) return { kind: 'none' };
  if (input.recentRemediations >= input.maxRemediationsPerWindow)
    return { kind: 'backoff', recent: input.recentRemediations };
  const masters = live.filter((n) => n.role === 'master');
  const healthyMasters = masters.filter((m) => !m.unhealthy).length;
  const quorum = Math.floor(masters.length / 2) + 1;
  const ids = candidates
    .filter((n) => n.role === 'worker' || (healthyMasters >= quorum && masters.length > 1))
    .map((n) => n.id);
  return ids.length ? { kind: 'replace', nodeIds: ids } : { kind: 'none' };
}
