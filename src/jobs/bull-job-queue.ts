import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../common/tokens.js';
import { REDIS } from './redis.provider.js';
import {
  type EnqueueOptions,
  HOST_QUEUE,
  hostQueueName,
  type JobName,
  JobQueue,
  type JobPayloads,
  QUEUE_OF,
  QueueName,
  type ScheduledJob,
} from './job-types.js';

@Injectable()
export class BullJobQueue extends JobQueue implements OnModuleDestroy {
  private readonly queues = new Map<string, Queue>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    super();
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection: this.redis,
        prefix: this.config.queuePrefix,
        defaultJobOptions: {
          attempts: this.config.jobAttempts,
          backoff: { type: 'exponential', delay: this.config.jobBackoffMs },
          removeOnComplete: { count: 1000 },
          removeOnFail: { count: 5000 },
        },
      });
      this.queues.set(name, q);
    }
    return q;
  }

  async enqueue<N extends JobName>(name: N, payload: JobPayloads[N], options: EnqueueOptions = {}): Promise<void> {
    const queue = QUEUE_OF[name];
    if (queue === HOST_QUEUE && !options.hostId) throw new Error(`job ${name} needs a hostId`);
    await this.queue(queue === HOST_QUEUE ? hostQueueName(options.hostId!) : queue).add(name, payload, {
      ...(options.resourceKey
        ? { deduplication: { id: `${name}/${options.resourceKey}`, keepLastIfActive: true } }
        : {}),
      ...(options.delayMs ? { delay: options.delayMs } : {}),
      ...(options.attempts ? { attempts: options.attempts } : {}),
    });
  }

  /** Runs a job now, outside any de-duplication, and waits for its result. */
  async runAndWait<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    hostId: string | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    const queueName = QUEUE_OF[name] === HOST_QUEUE ? hostQueueName(hostId!) : (QUEUE_OF[name] as string);
    const url = new URL(this.config.redisUrl);
    const events = new QueueEvents(queueName, {
      connection: { host: url.hostname, port: Number(url.port || 6379), password: url.password || undefined },
      prefix: this.config.queuePrefix,
    });
    try {
      await events.waitUntilReady();
      const job = await this.queue(queueName).add(name, payload, { attempts: 1 });
      return await job.waitUntilFinished(events, timeoutMs);
    } finally {
      await events.close();
    }
  }

  async upsertSchedule(job: ScheduledJob, hostId?: string): Promise<void> {
    const queue = QUEUE_OF[job.name];
    await this.queue(queue === HOST_QUEUE ? hostQueueName(hostId!) : queue).upsertJobScheduler(
      job.id,
      { every: job.everyMs },
      { name: job.name, data: job.payload },
    );
  }

  async counts(): Promise<Record<QueueName, Record<string, number>>> {
    const out = {} as Record<QueueName, Record<string, number>>;
    for (const name of Object.values(QueueName)) {
      out[name] = await this.queue(name).getJobCounts(
        'waiting',
        'active',
        'delayed',
        'failed',
        'completed',
        'prioritized',
      );
    }
    return out;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.redis.quit().catch(() => undefined);
  }
}
