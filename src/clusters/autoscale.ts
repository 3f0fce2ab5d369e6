/** A cluster's worker autoscaler (settings.autoscale), as a pure decision. */

export interface AutoscaleSettings {
  minWorkers: number;
  maxWorkers: number;
  targetCpuPercent: number;
  /** Seconds after a change before the next one (default 120). */
  cooldownSeconds?: number;
}

export interface AutoscaleInput {
  settings: AutoscaleSettings;
  workers: number;
  /** CPU use (percent of their vCPUs) of the workers that are Ready, sampled by the health sweep. */
  readyWorkerCpu: number[];
  /** The cluster is at rest (Running); usage of a cluster that is changing is not a signal. */
  running: boolean;
  lastChangeAt: number | null;
  now: number;
}

export const AUTOSCALE_DEFAULT_COOLDOWN_SECONDS = 120;
/** As Kubernetes' Horizontal Pod Autoscaler: within 10% of the target, nothing changes. */
export const AUTOSCALE_TOLERANCE = 0.1;

export type AutoscaleDecision = { workers: number; reason: string } | null;

/**
 * Bounds first (a count outside [minWorkers, maxWorkers] is corrected at once); then, for a
 * Running cluster out of its cool-down, the Horizontal Pod Autoscaler's rule:
 * desired = ceil(workers × averageCpu / target), kept within the bounds.
 */
export function autoscaleDecision(i: AutoscaleInput): AutoscaleDecision {
  const { minWorkers, maxWorkers, targetCpuPercent } = i.settings;
  if (i.workers < minWorkers) return { workers: minWorkers, reason: `below minWorkers ${minWorkers}` };
  if (i.workers > maxWorkers) return { workers: maxWorkers, reason: `above maxWorkers ${maxWorkers}` };
  if (!i.running || i.readyWorkerCpu.length === 0) return null;
  const cooldownMs = (i.settings.cooldownSeconds ?? AUTOSCALE_DEFAULT_COOLDOWN_SECONDS) * 1000;
  if (i.lastChangeAt !== null && i.now - i.lastChangeAt < cooldownMs) return null;
  const average = i.readyWorkerCpu.reduce((a, b) => a + b, 0) / i.readyWorkerCpu.length;
  const ratio = average / targetCpuPercent;
  if (Math.abs(ratio - 1) <= AUTOSCALE_TOLERANCE) return null;
  const desired = Math.min(maxWorkers, Math.max(minWorkers, Math.ceil(i.workers * ratio)));
  if (desired === i.workers) return null;
  return {
    workers: desired,
    reason: `average worker CPU ${average.toFixed(1)}% against a target of ${targetCpuPercent}%`,
  };
}
