import { type Condition, type ConditionStatus, sameConditions, setCondition } from '../common/conditions.js';
import type { NodeEntity, NodePhase, NodeUsage } from './node.entity.js';

/** One condition a writer asserts; its lastTransitionTime is kept while its status holds. */
export interface ConditionChange {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * What one writer changes of a node's status: only the fields it names and the condition types
 * it lists. Everything else, other writers' conditions included, is left as it is in the row.
 */
export interface NodeStatusPatch {
  phase?: NodePhase;
  conditions?: ConditionChange[];
  readyAt?: Date | null;
  failingSince?: Date | null;
  unhealthySince?: Date | null;
  lastHeartbeatAt?: Date | null;
  bootStartedAt?: Date | null;
  usage?: NodeUsage | null;
}

/** The columns a patch writes, computed against the node as it is now; empty when nothing changes. */
export type NodeStatusColumns = Partial<
  Pick<
    NodeEntity,
    | 'phase'
    | 'conditions'
    | 'readyAt'
    | 'failingSince'
    | 'unhealthySince'
    | 'lastHeartbeatAt'
    | 'bootStartedAt'
    | 'usage'
  >
>;

const time = (d: Date | null | undefined) => (d ? d.getTime() : null);

export function statusColumns(current: NodeEntity, patch: NodeStatusPatch, now = new Date()): NodeStatusColumns {
  const out: NodeStatusColumns = {};
  if (patch.phase !== undefined && patch.phase !== current.phase) out.phase = patch.phase;
  if (patch.conditions?.length) {
    let conditions: Condition[] = current.conditions;
    for (const c of patch.conditions) conditions = setCondition(conditions, c.type, c.status, c.reason, c.message, now);
    if (!sameConditions(conditions, current.conditions)) out.conditions = conditions;
  }
  for (const key of ['readyAt', 'failingSince', 'unhealthySince', 'lastHeartbeatAt', 'bootStartedAt'] as const) {
    const value = patch[key];
    if (value !== undefined && time(value) !== time(current[key])) out[key] = value;
  }
  if (patch.usage !== undefined && JSON.stringify(patch.usage) !== JSON.stringify(current.usage))
    out.usage = patch.usage;
  return out;
}

/** A status change: a fixed patch, or one computed from the row as it is at the moment of writing. */
export type NodeStatusChange = NodeStatusPatch | ((current: NodeEntity) => NodeStatusPatch | null);
