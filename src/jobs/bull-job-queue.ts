import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { currentRequestId } from '../common/request-context.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
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
  withRequestId,
} from './job-types.js';

/** How long a resource's count of asked runs is kept after the last ask (see `asks`). */
const ASKS_TTL_MS = 24 * 3600 * 1000;

/** How long a request waits for Redis to take a job that the resync would enqueue anyway. */
const NUDGE_TIMEOUT_MS = 2000;

@Injectable()
export class BullJobQueue extends JobQueue implements OnModuleDestroy {
  private readonly queues = new Map<string, Queue>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
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
      // Without a listener, BullMQ prints connection errors to stderr outside the JSON logs.
      q.on('error', (err) => this.logger.warn({ err: err.message, queue: name }, 'queue connection error'));
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * The queue, once it has connected. BullMQ keeps the failure of a queue's first connection for
   * good (made while Redis was going away, it never works): such a queue is replaced.
   */
  private async ready(name: string): Promise<Queue> {
    const q = this.queue(name);
    try {
      await q.waitUntilReady();
      return q;
    } catch (err) {
      if (this.queues.get(name) === q) this.queues.delete(name);
      void q.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The id of the request being served (in the worker: of the request that caused the job being
   * run) goes into the job's data, so the job's log lines name the request that led to them.
   */
  async enqueue<N extends JobName>(name: N, payload: JobPayloads[N], options: EnqueueOptions = {}): Promise<void> {
    const queue = QUEUE_OF[name];
    if (queue === HOST_QUEUE && !options.hostId) throw new Error(`job ${name} needs a hostId`);
    const q = await this.ready(queue === HOST_QUEUE ? hostQueueName(options.hostId!) : queue);
    const asking = options.resourceKey && !options.ensureOnly && !options.delayMs;
    // Counted before the add, and after the change that asks for the run was committed.
    if (asking) {
      const key = this.asksKey(name, options.resourceKey!);
      await this.redis.pipeline().incr(key).pexpire(key, ASKS_TTL_MS).exec();
    }
    await q.add(name, withRequestId(payload, currentRequestId()), {
      // One job per resource: while one waits, another add is dropped; while one runs, the last
      // add is kept to run after it. An add for now also brings a pending delayed one forward,
      // so a look-again-later never holds back a change that asks for a look now. An add that
      // only makes sure there is a job does neither: any job of the resource is enough.
      ...(options.resourceKey
        ? {
            deduplication: {
              id: `${name}/${options.resourceKey}`,
              keepLastIfActive: !options.ensureOnly,
              ...(options.delayMs || options.ensureOnly ? {} : { reschedule: true }),
            },
          }
        : {}),
      ...(options.delayMs || options.gatherMs ? { delay: options.delayMs || options.gatherMs } : {}),
      ...(options.attempts ? { attempts: options.attempts } : {}),
    });
    // Asked for since the job read its state: that run may have been replaced by this look later
    // (if it was asked before this add) or it replaces it (after); either way, one for now.
    if (options.askedBefore !== undefined && options.resourceKey)
      if ((await this.asks(name, options.resourceKey)) !== options.askedBefore)
        await this.enqueue(name, payload, { resourceKey: options.resourceKey, hostId: options.hostId });
  }

  async asks(name: JobName, resourceKey: string): Promise<number> {
    return Number((await this.redis.get(this.asksKey(name, resourceKey))) ?? 0);
  }

  private asksKey(name: string, resourceKey: string): string {
    return `${this.config.queuePrefix}:asks:${name}/${resourceKey}`;
  }

  async nudge<N extends JobName>(name: N, payload: JobPayloads[N], options: EnqueueOptions = {}): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // While Redis is away BullMQ waits for it rather than failing: the request does not.
      await Promise.race([
        this.enqueue(name, payload, options),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer from Redis within ${NUDGE_TIMEOUT_MS} ms`)),
            NUDGE_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      this.logger.warn({ job: name, err: (err as Error).message }, 'cannot enqueue now; the resync will pick it up');
    } finally {
      clearTimeout(timer);
    }
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
      const job = await (
        await this.ready(queueName)
      ).add(name, withRequestId(payload, currentRequestId()), {
        attempts: 1,
      });
      return await job.waitUntilFinished(events, timeoutMs);
    } finally {
      await events.close();
    }
  }

  async upsertSchedule(job: ScheduledJob, hostId?: string): Promise<void> {
    const queue = QUEUE_OF[job.name];
    await (
      await this.ready(queue === HOST_QUEUE ? hostQueueName(hostId!) : queue)
    ).upsertJobScheduler(job.id, { every: job.everyMs }, { name: job.name, data: job.payload });
  }

  async hasSchedule(job: ScheduledJob, hostId?: string): Promise<boolean> {
    const queue = QUEUE_OF[job.name];
    const q = await this.ready(queue === HOST_QUEUE ? hostQueueName(hostId!) : queue);
    return Boolean(await q.getJobScheduler(job.id));
  }

  async counts(): Promise<Record<QueueName, Record<string, number>>> {
    const out = {} as Record<QueueName, Record<string, number>>;
    for (const name of Object.values(QueueName)) out[name] = await this.countsOf(name);
    return out;
  }

  hostQueueCounts(hostId: string): Promise<Record<string, number>> {
    return this.countsOf(hostQueueName(hostId));
  }

  private async countsOf(queueName: string): Promise<Record<string, number>> {
    return (await this.ready(queueName)).getJobCounts(
      'waiting',
      'active',
      'delayed',
      'failed',
      'completed',
      'prioritized',
    );
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    // QUIT waits for a connection that may never come back: without one there is nothing to say.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    else this.redis.disconnect();
  }
}
