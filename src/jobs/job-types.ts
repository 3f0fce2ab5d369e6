import { isSafeRequestId } from '../common/request-context.js';

/** Shared queues, consumed by every worker process. */
export const QueueName = {
  Reconcile: 'reconcile',
  Maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/**
 * Jobs that touch one hypervisor host run on that host's own queue, consumed only by the worker
 * that holds the host's lease: one slow host cannot stall the others, and a simulated host's
 * in-process state lives in exactly one process.
 */
export const HOST_QUEUE = 'host';
export function hostQueueName(hostId: string): string {
  return `host-${hostId}`;
}

/** Every job the platform runs, with its typed payload. */
export interface JobPayloads {
  'maintenance.prune-idempotency': { olderThanHours: number };
  /** Per cluster the newest `keep`, and nothing older than `maxAgeDays`; 0 turns either off. */
  'maintenance.prune-events': { keep: number; maxAgeDays: number };
  /** 0 keeps every record. */
  'maintenance.prune-audit': { olderThanDays: number };
  'cluster.reconcile': { clusterId: string };
  'clusters.resync': Record<string, never>;
  'clusters.autoscale': Record<string, never>;
  'node.reconcile': { nodeId: string };
  'host.sweep': { hostId: string };
  'host.fault': {
    hostId: string;
    nodeId: string | null;
    fault: 'crash' | 'hang' | 'unready' | 'cpu-load' | 'unreachable' | 'reachable';
    cpuPercent?: number;
  };
  'host.inventory': { hostId: string };
  /** Removes the network rows nothing owns any more, and repairs the ports live nodes lack. */
  'network.collect': Record<string, never>;
  /** Takes one backup (its snapshot, stored in a volume on its host). */
  'backup.take': { backupId: string };
  /** Removes a deleted backup's volume from the host that stored it. */
  'backup.remove': { backupId: string; storagePoolId: string; hostId: string };
  /** Scheduled backups (settings.backup): takes the due ones, keeps the newest `keep`, finds lost ones. */
  'backups.schedule': Record<string, never>;
  /** Only used by tests of the job machinery itself. */
  'test.flaky': { key: string; failTimes: number };
}
export type JobName = keyof JobPayloads;

export const QUEUE_OF: Record<JobName, QueueName | typeof HOST_QUEUE> = {
  'maintenance.prune-idempotency': QueueName.Maintenance,
  'maintenance.prune-events': QueueName.Maintenance,
  'maintenance.prune-audit': QueueName.Maintenance,
  'cluster.reconcile': QueueName.Reconcile,
  'clusters.resync': QueueName.Maintenance,
  'clusters.autoscale': QueueName.Maintenance,
  'node.reconcile': HOST_QUEUE,
  'host.sweep': HOST_QUEUE,
  'host.fault': HOST_QUEUE,
  'host.inventory': HOST_QUEUE,
  'network.collect': QueueName.Maintenance,
  'backup.take': HOST_QUEUE,
  'backup.remove': HOST_QUEUE,
  'backups.schedule': QueueName.Maintenance,
  'test.flaky': QueueName.Maintenance,
};

/** The queue a metric names: every host's own queue counts as `host` (one series, whatever the hosts). */
export function queueLabel(queueName: string): string {
  return queueName.startsWith(`${HOST_QUEUE}-`) ? HOST_QUEUE : queueName;
}

/**
 * A job's data is its payload plus, when an API request caused it (directly or through the jobs
 * that request's jobs enqueued), that request's id: the worker logs the job's lines with it.
 */
export type JobData<N extends JobName> = JobPayloads[N] & { requestId?: string };

export function withRequestId<N extends JobName>(payload: JobPayloads[N], requestId: string | undefined): JobData<N> {
  return requestId === undefined ? payload : { ...payload, requestId };
}

/** The payload a handler gets, and the request id beside it (only a well-formed one). */
export function splitRequestId(data: unknown): { payload: unknown; requestId: string | undefined } {
  if (!data || typeof data !== 'object' || !('requestId' in data)) return { payload: data, requestId: undefined };
  const { requestId, ...payload } = data as { requestId: unknown };
  return { payload, requestId: isSafeRequestId(requestId) ? requestId : undefined };
}

export interface EnqueueOptions {
  /**
   * The resource this job acts on. Jobs with the same key never run at once, and while one runs,
   * further requests collapse into one follow-up run.
   */
  resourceKey?: string;
  delayMs?: number;
  /**
   * Only make sure a job of this resource is there (a safety net for a job lost with Redis): an
   * add beside a waiting, delayed or running one is dropped, neither bringing it forward nor
   * queueing a run after it.
   */
  ensureOnly?: boolean;
  /**
   * Run soon rather than now: after this long, so that the adds of changes that come together
   * (the nodes of a cluster becoming ready in the same round) make one run. A pending later run
   * is brought forward to then, as by an add for now.
   */
  gatherMs?: number;
  /**
   * A look again later (with `delayMs`) from inside the resource's running job, which read
   * `asks()` before it read the state it acted on: if a run was asked for since, a run now is
   * queued after this add. Of the adds made while a job runs, the last is kept, so without this
   * the look later would replace a sooner run asked for by a change this job did not see.
   */
  askedBefore?: number;
  attempts?: number;
  /** Required for jobs on a host queue. */
  hostId?: string;
}

export interface ScheduledJob<N extends JobName = JobName> {
  id: string;
  name: N;
  everyMs: number;
  payload: JobPayloads[N];
}

/** The port services use to start background work; BullMQ sits behind it. */
export abstract class JobQueue {
  abstract enqueue<N extends JobName>(name: N, payload: JobPayloads[N], options?: EnqueueOptions): Promise<void>;
  /**
   * Enqueues a job that only hurries work the database already asks for: a request whose desired
   * state is committed has succeeded even when Redis is away, because the resync schedule finds
   * every cluster that is not at its declared state. A failure is logged, not thrown.
   */
  abstract nudge<N extends JobName>(name: N, payload: JobPayloads[N], options?: EnqueueOptions): Promise<void>;
  /**
   * How many runs of this job for this resource have been asked for (adds for now or soon, not
   * looks later nor ensure-only adds), counted before each add: see `askedBefore`.
   */
  abstract asks(name: JobName, resourceKey: string): Promise<number>;
  abstract counts(): Promise<Record<QueueName, Record<string, number>>>;
  /** Jobs per state on one host's own queue. */
  abstract hostQueueCounts(hostId: string): Promise<Record<string, number>>;
  abstract ping(): Promise<void>;
  /** Runs a job now, outside any de-duplication, and waits for its result. */
  abstract runAndWait<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    hostId: string | undefined,
    timeoutMs: number,
  ): Promise<unknown>;
}
