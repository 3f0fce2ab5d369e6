import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { type Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import { BullJobQueue } from './bull-job-queue.js';
import { type JobName, type JobPayloads, QueueName } from './job-types.js';
import { ON_JOB } from './on-job.decorator.js';
import { scheduleTable } from './schedule.js';

type Handler = (payload: unknown, meta: { attempt: number; jobId: string }) => Promise<unknown>;

/** Runs in the worker process: finds @OnJob handlers, consumes every queue, registers schedules. */
@Injectable()
export class JobRunner implements OnApplicationShutdown {
  private readonly handlers = new Map<string, Handler>();
  private readonly workers: Worker[] = [];
  private readonly dynamic = new Map<string, Worker>();
  private scheduleTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly queue: BullJobQueue,
  ) {}

  discoverHandlers(): string[] {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const name = Reflect.getMetadata(ON_JOB, fn) as JobName | undefined;
        if (!name) continue;
        if (this.handlers.has(name)) throw new Error(`two handlers for job ${name}`);
        this.handlers.set(name, (payload, meta) => (fn as Handler).call(instance, payload, meta));
      }
    }
    return [...this.handlers.keys()].sort();
  }

  /** Handlers registered outside providers (tests of the machinery). */
  register<N extends JobName>(
    name: N,
    handler: (payload: JobPayloads[N], meta: { attempt: number; jobId: string }) => Promise<unknown>,
  ): void {
    this.handlers.set(name, handler as Handler);
  }

  private createWorker(queueName: string, concurrency: number): Worker {
    const connection = new URL(this.config.redisUrl);
    const worker = new Worker(queueName, (job) => this.run(job), {
      connection: {
        host: connection.hostname,
        port: Number(connection.port || 6379),
        password: connection.password || undefined,
        username: connection.username || undefined,
        db: connection.pathname.length > 1 ? Number(connection.pathname.slice(1)) : 0,
        maxRetriesPerRequest: null,
      },
      prefix: this.config.queuePrefix,
      concurrency,
      lockDuration: this.config.jobLockMs,
      stalledInterval: Math.max(1000, Math.floor(this.config.jobLockMs / 2)),
    });
    worker.on('failed', (job, err) => {
      const final = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
      this.logger.warn(
        { job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, final, err: err.message },
        final ? 'job failed for good' : 'job failed; will retry',
      );
    });
    worker.on('error', (err) => this.logger.error({ err: err.message, queue: queueName }, 'worker error'));
    return worker;
  }

  /** Starts consuming a queue that exists only while this process owns something (a host). */
  async startQueue(queueName: string): Promise<void> {
    if (this.dynamic.has(queueName)) return;
    const worker = this.createWorker(queueName, this.config.workerConcurrency);
    this.dynamic.set(queueName, worker);
    try {
      await worker.waitUntilReady();
    } catch (err) {
      // BullMQ keeps a failed first connection for good: forget this one, the caller tries again.
      if (this.dynamic.get(queueName) === worker) this.dynamic.delete(queueName);
      void worker.close().catch(() => undefined);
      throw err;
    }
  }

  async stopQueue(queueName: string): Promise<void> {
    const worker = this.dynamic.get(queueName);
    this.dynamic.delete(queueName);
    await worker?.close();
  }

  async start(options: { schedules?: boolean } = {}): Promise<void> {
    if (this.handlers.size === 0) this.discoverHandlers();
    for (const queueName of Object.values(QueueName)) {
      this.workers.push(this.createWorker(queueName, this.config.workerConcurrency));
    }
    if (options.schedules !== false) {
      for (const job of scheduleTable(this.config)) await this.queue.upsertSchedule(job);
      // Schedules live in Redis: one that comes back without its data would run none of them.
      this.scheduleTimer = setInterval(() => void this.restoreSchedules(), this.config.resyncSeconds * 1000);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.logger.info({ handlers: [...this.handlers.keys()] }, 'worker started');
  }

  /** Registers again every schedule that Redis no longer has. Exposed for tests. */
  async restoreSchedules(): Promise<string[]> {
    const restored: string[] = [];
    try {
      for (const job of scheduleTable(this.config)) {
        if (await this.queue.hasSchedule(job)) continue;
        await this.queue.upsertSchedule(job);
        restored.push(job.id);
      }
      if (restored.length)
        this.logger.warn({ schedules: restored }, 'schedules were missing from Redis; registered again');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cannot check the schedules');
    }
    return restored;
  }

  private async run(job: Job): Promise<unknown> {
    const handler = this.handlers.get(job.name);
    if (!handler) throw new Error(`no handler for job ${job.name}`);
    return handler(job.data, { attempt: job.attemptsMade + 1, jobId: String(job.id) });
  }

  async stop(): Promise<void> {
    clearInterval(this.scheduleTimer);
    const dynamic = [...this.dynamic.values()];
    this.dynamic.clear();
    await Promise.all([...this.workers.splice(0), ...dynamic].map((w) => w.close()));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
