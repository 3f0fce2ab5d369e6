import { DomainError } from '../common/domain-error.js';
import type { Taint, TaintEffect } from '../nodes/node.entity.js';

/**
 * A cluster's workers, as named pools: each with its count, node size, labels, taints and
 * autoscaling bounds. A cluster declared with `workers: N` has one pool, `default`.
 */
export interface NodeSpec {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export type { Taint, TaintEffect };
export const TAINT_EFFECTS: readonly TaintEffect[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export interface PoolAutoscale {
  minCount: number;
  maxCount: number;
  targetCpuPercent: number;
  /** Seconds after a change before the next one (default 120). */
  cooldownSeconds?: number;
}

export interface WorkerPool {
  name: string;
  count: number;
  nodeSpec: NodeSpec;
  labels: Record<string, string>;
  taints: Taint[];
  autoscale?: PoolAutoscale;
  /** When the autoscaler last changed this pool's count (the start of its cool-down). */
  autoscaledAt?: string;
}

export const DEFAULT_POOL = 'default';
export const MAX_POOLS = 10;
export const MAX_POOL_COUNT = 100;
export const MAX_LABELS = 64;
export const MAX_TAINTS = 32;

/** What a cluster's pools declare together: stored beside them for quota and storage checks. */
export interface PoolTotals {
  workers: number;
  workerVcpus: number;
  workerMemoryMiB: number;
  workerDiskGiB: number;
}

export function poolTotals(pools: readonly WorkerPool[]): PoolTotals {
  let workers = 0;
  let workerVcpus = 0;
  let workerMemoryMiB = 0;
  let workerDiskGiB = 0;
  for (const p of pools) {
    workers += p.count;
    workerVcpus += p.count * p.nodeSpec.vcpus;
    workerMemoryMiB += p.count * p.nodeSpec.memoryMiB;
    workerDiskGiB += p.count * p.nodeSpec.diskGiB;
  }
  return { workers, workerVcpus, workerMemoryMiB, workerDiskGiB };
}

/** A label or taint key: an optional DNS-subdomain prefix and `/`, then a name of 63 at most. */
const KEY_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const KEY_PREFIX = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** Label namespaces a kubelet may set on its own node (others in kubernetes.io are refused). */
const KUBELET_PREFIXES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

function keyProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && !KEY_PREFIX.test(prefix)) return 'has a prefix that is not a DNS subdomain';
  if (!KEY_NAME.test(name))
    return 'must be 63 characters at most: letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  if (/(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix) && !KUBELET_PREFIXES.includes(prefix))
    return `is in the ${prefix} namespace, which a node may not label itself with (node.kubernetes.io/ and kubelet.kubernetes.io/ may)`;
  return null;
}

/** Checks labels as Kubernetes does; `field` names them in the error (e.g. workerPools[1].labels). */
export function checkLabels(labels: unknown, field: string): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    throw DomainError.validation(field, 'must be an object of label keys to values');
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > MAX_LABELS) throw DomainError.validation(field, `may hold at most ${MAX_LABELS} labels`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    const problem = keyProblem(key);
    if (problem) throw DomainError.validation(`${field}.${key}`, `label key ${problem}`);
    if (typeof value !== 'string' || !LABEL_VALUE.test(value))
      throw DomainError.validation(
        `${field}.${key}`,
        'label value must be a string of 63 characters at most: letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
      );
    out[key] = value;
  }
  return out;
}

export function checkTaints(taints: unknown, field: string): Taint[] {
  if (taints === undefined) return [];
  if (!Array.isArray(taints)) throw DomainError.validation(field, 'must be a list of {key, value?, effect}');
  if (taints.length > MAX_TAINTS) throw DomainError.validation(field, `may hold at most ${MAX_TAINTS} taints`);
  const seen = new Set<string>();
  return taints.map((t: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof t !== 'object' || t === null || Array.isArray(t))
      throw DomainError.validation(at, 'must be an object {key, value?, effect}');
    const { key, value, effect, ...rest } = t as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw DomainError.validation(`${at}.${extra[0]}`, 'is not a taint field');
    if (typeof key !== 'string') throw DomainError.validation(`${at}.key`, 'must be a string');
    const problem = keyProblem(key);
    if (problem) throw DomainError.validation(`${at}.key`, `taint key ${problem}`);
    if (value !== undefined && (typeof value !== 'string' || !LABEL_VALUE.test(value)))
      throw DomainError.validation(`${at}.value`, 'must be a string of 63 characters at most, as a label value');
    if (typeof effect !== 'string' || !(TAINT_EFFECTS as readonly string[]).includes(effect))
      throw DomainError.validation(`${at}.effect`, `must be one of ${TAINT_EFFECTS.join(', ')}`);
    if (seen.has(`${key}:${effect}`)) throw DomainError.validation(at, `repeats the taint ${key}:${effect}`);
    seen.add(`${key}:${effect}`);
    return value === undefined || value === ''
      ? { key, effect: effect as TaintEffect }
      : { key, value, effect: effect as TaintEffect };
  });
}

export function checkAutoscale(a: PoolAutoscale | undefined, count: number, field: string): void {
  if (!a) return;
  if (a.minCount > a.maxCount) throw DomainError.validation(`${field}.minCount`, 'must not exceed maxCount');
  void count;
}

/** Pool names a node name is built from: never "master", which masters' names use. */
export function checkPoolName(name: string, field: string): void {
  if (name === 'master' || name === 'masters')
    throw DomainError.validation(field, `"${name}" is reserved for the control plane's nodes`);
}

/** Finds a pool or answers 404 naming it. */
export function poolNamed(pools: readonly WorkerPool[], name: string): WorkerPool {
  const pool = pools.find((p) => p.name === name);
  if (!pool) throw DomainError.notFound('worker pool', name);
  return pool;
}

/** Node names: `<cluster>-worker-<n>` in the default pool, `<cluster>-<pool>-<n>` in the others. */
export function nodeName(clusterName: string, role: 'master' | 'worker', pool: string | null, ordinal: number): string {
  const cluster = clusterName.slice(0, 40).replace(/-+$/, '');
  const middle =
    role === 'master' || pool === null || pool === DEFAULT_POOL ? role : pool.slice(0, 15).replace(/-+$/, '');
  return `${cluster}-${middle}-${ordinal}`;
}
