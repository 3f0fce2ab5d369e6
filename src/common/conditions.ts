/** Kubernetes-style status conditions. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/**
 * Sets one condition; lastTransitionTime moves only when the status changes, so a condition that
 * is re-asserted on every pass keeps the time it really became true.
 */
export function setCondition(
  conditions: Condition[],
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
  now = new Date(),
): Condition[] {
  const existing = conditions.find((c) => c.type === type);
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime: existing && existing.status === status ? existing.lastTransitionTime : now.toISOString(),
  };
  return [...conditions.filter((c) => c.type !== type), next].sort((a, b) => a.type.localeCompare(b.type));
}

export function conditionStatus(conditions: Condition[], type: string): ConditionStatus {
  return conditions.find((c) => c.type === type)?.status ?? 'Unknown';
}

/** Equal as conditions, whatever order their keys came back in (jsonb reorders them). */
export function sameConditions(a: Condition[], b: Condition[]): boolean {
  const key = (list: Condition[]) =>
    JSON.stringify(
      list
        .map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime])
        .sort((x, y) => x[0].localeCompare(y[0])),
    );
  return a.length === b.length && key(a) === key(b);
}
