import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { type Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import type { AppConfig } from '../config/config.js';
import { currentRequestId, requestContext } from '../common/request-context.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import { MetricsService } from '../platform/metrics.service.js';
import { BullJobQueue } from './bull-job-queue.js';
import { type JobName, type JobPayloads, QueueName, queueLabel, splitRequestId } from './job-types.js';
import { ON_JOB } from './on-job.decorator.js';
import { scheduleTable } from './schedule.js';

/** What a handler learns of its job besides the payload. */
export interface JobMeta {
  attempt: number;
  jobId: string;
  /** The API request that led to this job, if one did. */
  requestId?: string;
}

type Handler = (payload: unknown, meta: JobMeta) => Promise<unknown>;

/** One BullMQ worker and what the watchdog knows of it. */
interface Consumer {
  queueName: string;
  worker: Worker;
  concurrency: number;
  /** Jobs inside a handler now. */
  inFlight: number;
  /** When a handler last started (or the worker was made). */
  startedAt: number;
  /** Since when jobs wait with a slot free and none starts. */
  idleSince?: number;
  /** Checks in a row that found a connection of the worker ended. */
  endedChecks: number;
}

/**
 * How often the watchdog looks at each worker, and how long jobs may wait with a slot free before
 * the worker counts as stuck. A sound worker takes a waiting job within milliseconds, but after a
 * connection error BullMQ waits 15 s (its `runRetryDelay`) before it fetches again.
 */
export interface WatchdogOptions {
  everyMs: number;
  stuckAfterMs: number;
}

/** Runs in the worker process: finds @OnJob handlers, consumes every queue, registers schedules. */
@Injectable()
export class JobRunner implements OnApplicationShutdown {
  private readonly handlers = new Map<string, Handler>();
  private readonly workers = new Map<string, Consumer>();
  private readonly dynamic = new Map<string, Consumer>();
  private scheduleTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = true;
  /** Set by stop(), cleared by start(): unlike `stopped`, not set before the first start. */
  private halted = false;
  private readonly restarts: Counter<'queue'>;
  private readonly failures: Counter<'queue' | 'job_name' | 'final'>;
  private readonly durations: Histogram<'queue' | 'job_name'>;
  /** Exposed for tests, which cannot wait for the defaults. */
  readonly watchdog: WatchdogOptions = { everyMs: 5000, stuckAfterMs: 30000 };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly queue: BullJobQueue,
    metrics: MetricsService,
  ) {
    this.restarts = new Counter({
      name: 'kaas_job_worker_restarts_total',
      help: 'BullMQ workers replaced because they stopped consuming their queue',
      labelNames: ['queue'],
      registers: [metrics.registry],
    });
    this.failures = new Counter({
      name: 'kaas_job_failures_total',
      help: 'Job runs that failed, by queue and job name; final="true" when no retry is left',
      labelNames: ['queue', 'job_name', 'final'],
      registers: [metrics.registry],
    });
    this.durations = new Histogram({
      name: 'kaas_job_duration_seconds',
      help: 'Time a job handler ran, by queue and job name, whatever its outcome',
      labelNames: ['queue', 'job_name'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [metrics.registry],
    });
  }

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
  register<N extends JobName>(name: N, handler: (payload: JobPayloads[N], meta: JobMeta) => Promise<unknown>): void {
    this.handlers.set(name, handler as Handler);
  }

  private createConsumer(queueName: string, concurrency: number): Consumer {
    const consumer: Consumer = {
      queueName,
      worker: undefined as unknown as Worker,
      concurrency,
      inFlight: 0,
      startedAt: Date.now(),
      endedChecks: 0,
    };
    const connection = new URL(this.config.redisUrl);
    const worker = new Worker(
      queueName,
      async (job) => {
        consumer.inFlight++;
        consumer.startedAt = Date.now();
        try {
          return await this.run(job, queueName);
        } finally {
          consumer.inFlight--;
        }
      },
      {
        connection: {
          host: connection.hostname,
          port: Number(connection.port || 6379),
          password: connection.password || undefined,
          username: connection.username || undefined,
          db: connection.pathname.length > 1 ? Number(connection.pathname.slice(1)) : 0,
          maxRetriesPerRequest: null,
          // BullMQ's own backoff grows to 20 s between attempts: a worker would sit out that long
          // after Redis is back.
          retryStrategy: (times: number) => Math.min(times * 200, 2000),
        },
        prefix: this.config.queuePrefix,
        concurrency,
        lockDuration: this.config.jobLockMs,
        stalledInterval: Math.max(1000, Math.floor(this.config.jobLockMs / 2)),
      },
    );
    consumer.worker = worker;
    worker.on('failed', (job, err) => {
      const final = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
      // Emitted outside the job's context (see run): the line names the request itself.
      const requestId = job && !currentRequestId() ? splitRequestId(job.data).requestId : undefined;
      this.failures.inc({ queue: queueLabel(queueName), job_name: job?.name ?? 'unknown', final: String(final) });
      (requestId ? this.logger.child({ requestId }) : this.logger).warn(
        { job: job?.name, jobId: job?.id, attempt: job?.attemptsMade, final, err: err.message },
        final ? 'job failed for good' : 'job failed; will retry',
      );
    });
    worker.on('error', (err) => this.logger.error({ err: err.message, queue: queueName }, 'worker error'));
    return consumer;
  }

  /** Starts consuming a queue that exists only while this process owns something (a host). */
  async startQueue(queueName: string): Promise<void> {
    // A runner stopped on purpose (shutting down, or stopped by hand) takes up no queue until started.
    if (this.halted || this.dynamic.has(queueName)) return;
    const consumer = this.createConsumer(queueName, this.config.workerConcurrency);
    this.dynamic.set(queueName, consumer);
    try {
      await consumer.worker.waitUntilReady();
    } catch (err) {
      // BullMQ keeps a failed first connection for good: forget this one, the caller tries again.
      if (this.dynamic.get(queueName) === consumer) this.dynamic.delete(queueName);
      void consumer.worker.close(true).catch(() => undefined);
      throw err;
    }
  }

  async stopQueue(queueName: string): Promise<void> {
    const consumer = this.dynamic.get(queueName);
    this.dynamic.delete(queueName);
    if (consumer) await closeWorker(consumer.worker, CLOSE_WAIT_MS);
  }

  async start(options: { schedules?: boolean } = {}): Promise<void> {
    if (this.handlers.size === 0) this.discoverHandlers();
    this.stopped = false;
    this.halted = false;
    for (const queueName of Object.values(QueueName)) {
      if (!this.workers.has(queueName))
        this.workers.set(queueName, this.createConsumer(queueName, this.config.workerConcurrency));
    }
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = setInterval(() => void this.checkWorkers(), this.watchdog.everyMs);
    if (options.schedules !== false) {
      for (const job of scheduleTable(this.config)) await this.queue.upsertSchedule(job);
      // Schedules live in Redis: one that comes back without its data would run none of them.
      clearInterval(this.scheduleTimer);
      this.scheduleTimer = setInterval(() => void this.restoreSchedules(), this.config.resyncSeconds * 1000);
    }
    await Promise.all([...this.workers.values()].map((c) => c.worker.waitUntilReady()));
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

  /**
   * Runs a job's handler. A job an API request caused runs in that request's context, so every
   * line logged while it runs (the handler's, and the runner's) carries its `requestId`, and the
   * jobs it enqueues carry it on.
   */
  private async run(job: Job, queueName: string): Promise<unknown> {
    const handler = this.handlers.get(job.name);
    if (!handler) throw new Error(`no handler for job ${job.name}`);
    const { payload, requestId } = splitRequestId(job.data);
    const meta: JobMeta = { attempt: job.attemptsMade + 1, jobId: String(job.id), ...(requestId ? { requestId } : {}) };
    const stop = this.durations.startTimer({ queue: queueLabel(queueName), job_name: job.name });
    const work = async () => {
      this.logger.debug({ job: job.name, jobId: meta.jobId, attempt: meta.attempt }, 'job started');
      try {
        return await handler(payload, meta);
      } finally {
        this.logger.debug({ job: job.name, jobId: meta.jobId, seconds: stop() }, 'job ended');
      }
    };
    return requestId ? requestContext.run({ requestId }, work) : work();
  }

  /**
   * Replaces every worker that stopped consuming. A BullMQ worker can stay dead after Redis comes
   * back: its fetch loop ended (not running), a connection of its own ended or never opened (BullMQ
   * keeps the failure of a first connection for good), or jobs wait while it has free slots and
   * starts none. Exposed for tests.
   */
  async checkWorkers(): Promise<string[]> {
    if (this.checking || this.stopped) return [];
    this.checking = true;
    const restarted: string[] = [];
    try {
      const all = [
        ...[...this.workers.values()].map((c) => ({ c, owner: this.workers })),
        ...[...this.dynamic.values()].map((c) => ({ c, owner: this.dynamic })),
      ];
      const verdicts = await Promise.all(all.map(({ c }) => this.whyStuck(c)));
      for (const [i, { c, owner }] of all.entries()) {
        const why = verdicts[i];
        // Stopped or replaced meanwhile (a host given up, a shutdown) is not ours to restart.
        if (!why || this.stopped || owner.get(c.queueName) !== c) continue;
        owner.set(c.queueName, this.createConsumer(c.queueName, c.concurrency));
        this.restarts.inc({ queue: c.queueName });
        this.logger.warn({ queue: c.queueName, why }, 'job worker stopped consuming; replaced it');
        restarted.push(c.queueName);
        void this.retire(c.worker);
      }
    } finally {
      this.checking = false;
    }
    return restarted;
  }

  private async whyStuck(c: Consumer): Promise<string | undefined> {
    const { worker } = c;
    if (worker.closing) return undefined;
    if (!worker.isRunning()) return 'its fetch loop ended';
    const backend = worker.getBackend();
    const [main, blocking] = await Promise.all([clientStatus(backend.client), clientStatus(backend.blockingClient)]);
    if (main === 'failed' || blocking === 'failed') return 'its connection never opened';
    // 'end' in passing is BullMQ dropping a blocked command and reconnecting; twice in a row is not.
    if (main === 'end' || blocking === 'end') {
      if (++c.endedChecks >= 2) return 'its connection ended';
    } else c.endedChecks = 0;
    if (c.inFlight >= c.concurrency) {
      c.idleSince = undefined;
      return undefined;
    }
    let waiting: number;
    try {
      const counts = await this.queue.queue(c.queueName).getJobCounts('wait', 'prioritized');
      waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    } catch {
      // Redis away: nothing can be judged now.
      return undefined;
    }
    const now = Date.now();
    if (waiting === 0) c.idleSince = undefined;
    else if (c.idleSince === undefined || c.startedAt >= c.idleSince) c.idleSince = now;
    else if (now - c.idleSince >= this.watchdog.stuckAfterMs) return `${waiting} jobs wait and none starts`;
    return undefined;
  }

  /** Closes a replaced worker; one whose fetch loop hangs never finishes a graceful close. */
  private async retire(worker: Worker): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        closeWorker(worker, CLOSE_WAIT_MS),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('close timed out')), CLOSE_WAIT_MS + this.config.jobLockMs * 2);
        }),
      ]);
    } catch {
      // A second close() only joins the first: cut its connections instead.
      void worker.disconnect().catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.halted = true;
    clearInterval(this.scheduleTimer);
    clearInterval(this.watchdogTimer);
    const all = [...this.workers.values(), ...this.dynamic.values()];
    this.workers.clear();
    this.dynamic.clear();
    await Promise.all(all.map((c) => closeWorker(c.worker, CLOSE_WAIT_MS)));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}

/** How long a close waits for Redis to come back before it gives up on the jobs still running. */
const CLOSE_WAIT_MS = 5000;

/**
 * Closes a worker, letting its running jobs finish when it can. BullMQ's graceful close drops the
 * blocking connection and waits for it to end, but ioredis never ends a connection that is
 * between two reconnection attempts (it only cancels the next attempt): closed while Redis is
 * away or just back, the worker's close never finishes, and neither does whatever awaits it (the
 * host lease tick, which then holds no host and renews no lease). So the close starts only once
 * that connection is up, in the same turn of the event loop as the check; if it does not come
 * back in time, the worker is closed at once, and its running jobs are left to the stalled-job
 * check.
 */
async function closeWorker(worker: Worker, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  const blocking = worker.getBackend().blockingClient;
  for (;;) {
    const status = await clientStatus(blocking);
    if (status === 'ready' || status === 'end') return worker.close();
    if (status === 'failed' || Date.now() >= deadline) return worker.close(true);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A client's status, 'failed' when its first connection failed, or undefined while it is still
 * opening: BullMQ hands its clients out as promises.
 */
async function clientStatus(client: Promise<{ status: string }> | undefined): Promise<string | undefined> {
  if (!client) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.then((c) => c.status),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 1000))),
    ]);
  } catch {
    return 'failed';
  } finally {
    clearTimeout(timer);
  }
}
