/** Queues: each has its own worker concurrency. */
export const QueueName = {
  Reconcile: 'reconcile',
  Maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/** Every job the platform runs, with its typed payload. */
export interface JobPayloads {
  'maintenance.prune-idempotency': { olderThanHours: number };
  /** Only used by tests of the job machinery itself. */
  'test.flaky': { key: string; failTimes: number };
}
export type JobName = keyof JobPayloads;

export const QUEUE_OF: Record<JobName, QueueName> = {
  'maintenance.prune-idempotency': QueueName.Maintenance,
  'test.flaky': QueueName.Maintenance,
};

export interface EnqueueOptions {
  /**
   * The resource this job acts on. Jobs with the same key never run at once, and while one runs,
   * further requests collapse into one follow-up run.
   */
  resourceKey?: string;
  delayMs?: number;
  attempts?: number;
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
  abstract counts(): Promise<Record<QueueName, Record<string, number>>>;
  abstract ping(): Promise<void>;
}
