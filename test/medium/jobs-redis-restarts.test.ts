import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { FactoryProvider } from '@nestjs/common';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/common/logger.js';
import { BullJobQueue } from '../../src/jobs/bull-job-queue.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { hostQueueName, QueueName } from '../../src/jobs/job-types.js';
import { redisProvider } from '../../src/jobs/redis.provider.js';
import { MetricsService } from '../../src/platform/metrics.service.js';
import { startOwnRedis, type OwnRedis } from '../support/own-redis.js';
import { waitFor } from '../support/processes.js';
import { LogSink, testConfig } from '../support/test-app.js';

/**
 * Redis killed with SIGKILL five times while jobs flow into a shared queue and a host's queue
 * (twice coming back without its data): every job that Redis could still have must be consumed,
 * and a BullMQ worker that stops consuming must be replaced.
 */
const HOST = 'h1';
const HOST_QUEUE = hostQueueName(HOST);
const RESTARTS: { downMs: number; loseData: boolean }[] = [
  { downMs: 500, loseData: false },
  { downMs: 1000, loseData: true },
  { downMs: 2500, loseData: false },
  { downMs: 300, loseData: true },
  { downMs: 1500, loseData: false },
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('jobs while Redis restarts', () => {
  let redis: OwnRedis;
  let config: AppConfig;
  let client: Redis;
  let queue: BullJobQueue;
  let metrics: MetricsService;
  let runner: JobRunner;
  const logs = new LogSink();

  beforeAll(async () => {
    redis = await startOwnRedis();
    // No database: the job machinery alone, as the worker process builds it.
    config = testConfig('postgres://kaas@127.0.0.1:1/unused', {
      REDIS_URL: redis.url,
      KAAS_JOB_LOCK_MS: '3000',
      KAAS_WORKER_CONCURRENCY: '8',
    });
    const logger = createLogger('info', 'worker', logs);
    client = (await (redisProvider as FactoryProvider<Redis>).useFactory(config, logger)) as Redis;
    queue = new BullJobQueue(config, logger, client);
    metrics = new MetricsService(queue);
    runner = new JobRunner(config, logger, {} as DiscoveryService, {} as MetadataScanner, queue, metrics);
  });
  afterAll(async () => {
    await runner?.stop();
    await queue?.onModuleDestroy();
    await redis?.stop();
  });

  it('consumes every job Redis still holds after five restarts, replacing workers that stopped', async () => {
    runner.watchdog.everyMs = 1000;
    // Above BullMQ's 15 s pause after a connection error, which a sound worker may be in.
    runner.watchdog.stuckAfterMs = 20000;
    const consumed = new Map<string, number>();
    const consume = async (key: string) => {
      consumed.set(key, Date.now());
      // Some jobs run across a restart: their locks lapse, and their completion may be refused.
      await sleep(Math.random() < 0.1 ? 2000 : Math.random() * 50);
      return { ok: true };
    };
    runner.register('test.flaky', (payload) => consume(payload.key));
    runner.register('host.inventory', (payload) => consume(payload.hostId));
    await runner.start({ schedules: false });
    await runner.startQueue(HOST_QUEUE);

    /** Keys whose enqueue Redis acknowledged, with when. */
    const acked = new Map<string, number>();
    let producing = true;
    let n = 0;
    const produce = async () => {
      while (producing) {
        const i = n++;
        const add = (key: string, p: Promise<void>) =>
          Promise.race([p.then(() => acked.set(key, Date.now())), sleep(2000)]).catch(() => undefined);
        await Promise.all([
          add(`m${i}`, queue.enqueue('test.flaky', { key: `m${i}`, failTimes: 0 })),
          add(`h${i}`, queue.enqueue('host.inventory', { hostId: `h${i}` }, { hostId: HOST })),
        ]);
        await sleep(10);
      }
    };
    // As the host lease tick does: a queue whose worker failed to start is started again.
    const tick = async () => {
      while (producing) {
        await runner.startQueue(HOST_QUEUE).catch(() => undefined);
        await sleep(200);
      }
    };
    /**
     * As a worker does when Redis comes back without its leases: it gives the host up and takes
     * it again, stopping the host's queue and starting it anew, while its BullMQ worker may still
     * wait for its next reconnection attempt.
     */
    const takeHostAgain = async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        runner.stopQueue(HOST_QUEUE).then(() => runner.startQueue(HOST_QUEUE)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("stopping the host's queue never ended")), 20000);
        }),
      ]).finally(() => clearTimeout(timer));
    };
    const producer = produce();
    const ticker = tick();

    /** When the last restart that lost data had Redis back. */
    let lastLossUp = 0;
    for (const [i, r] of RESTARTS.entries()) {
      await sleep(3000 + Math.random() * 2000);
      await redis.restart(r);
      if (r.loseData) {
        lastLossUp = Date.now();
        await takeHostAgain();
      }
      process.stdout.write(`restart ${i + 1}: down ${r.downMs} ms${r.loseData ? ', data lost' : ''}\n`);
    }
    await sleep(5000);
    producing = false;
    await Promise.all([producer, ticker]);

    // Acknowledged after the last loss of data: every later restart kept it.
    const required = [...acked].filter(([, at]) => at > lastLossUp).map(([key]) => key);
    expect(required.filter((k) => k.startsWith('m')).length).toBeGreaterThan(100);
    expect(required.filter((k) => k.startsWith('h')).length).toBeGreaterThan(100);
    const missing = () => required.filter((k) => !consumed.has(k));
    await waitFor('every acknowledged job to be consumed', async () => missing().length === 0, 60000, 250).catch(
      (err: Error) => {
        throw new Error(`${err.message}; ${missing().length} of ${required.length} missing: ${missing().slice(0, 10)}`);
      },
    );

    const counter = await metrics.registry.getSingleMetric('kaas_job_worker_restarts_total')!.get();
    const restartsByQueue = Object.fromEntries(counter.values.map((v) => [v.labels.queue, v.value]));
    const replaced = logs.lines.filter((l) => l.includes('job worker stopped consuming'));
    process.stdout.write(`worker restarts: ${JSON.stringify(restartsByQueue)}\n${replaced.join('\n')}\n`);
    // Once per restart, and only for queues this runner consumes.
    expect(replaced).toHaveLength(counter.values.reduce((sum, v) => sum + v.value, 0));
    for (const q of Object.keys(restartsByQueue))
      expect([...Object.values(QueueName), HOST_QUEUE] as string[]).toContain(q);
  }, 180000);

  it('replaces a BullMQ worker whose fetch loop ended, once, and counts it', async () => {
    const restarts = async () =>
      (await metrics.registry.getSingleMetric('kaas_job_worker_restarts_total')!.get()).values.find(
        (v) => v.labels.queue === QueueName.Maintenance,
      )?.value ?? 0;
    const before = await restarts();
    const loggedBefore = logs.lines.filter((l) => l.includes('its fetch loop ended')).length;
    const ran: string[] = [];
    runner.register('test.flaky', async (payload) => {
      ran.push(payload.key);
      return { ok: true };
    });
    // A fetch loop that ended on an error looks the same from outside: not running, not closing.
    const consumers = (runner as unknown as { workers: Map<string, { worker: Worker }> }).workers;
    const dead = consumers.get(QueueName.Maintenance)!.worker;
    await dead.pause(true);
    await waitFor('the fetch loop to end', async () => !dead.isRunning(), 15000, 20);
    await queue.enqueue('test.flaky', { key: 'after-the-loop-ended', failTimes: 0 });
    await waitFor('the job to run on a new worker', async () => ran.includes('after-the-loop-ended'), 20000, 100);
    expect(await restarts()).toBe(before + 1);
    expect(logs.lines.filter((l) => l.includes('its fetch loop ended')).length).toBe(loggedBefore + 1);
  }, 30000);
});
