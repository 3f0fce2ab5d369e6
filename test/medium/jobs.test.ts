import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import type { INestApplicationContext } from '@nestjs/common';
import { QueueEvents } from 'bullmq';
import { AppModule } from '../../src/app.module.js';
import { createLogger } from '../../src/common/logger.js';
import { BullJobQueue } from '../../src/jobs/bull-job-queue.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { QueueName } from '../../src/jobs/job-types.js';
import { LogSink, testConfig } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { waitFor } from '../support/processes.js';

describe('background jobs on real Redis', () => {
  let db: TestDatabase;
  let ctx: INestApplicationContext;
  let queue: BullJobQueue;
  let runner: JobRunner;
  let events: QueueEvents;
  const logs = new LogSink();

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = testConfig(db.url, { KAAS_JOB_ATTEMPTS: '3', KAAS_JOB_BACKOFF_MS: '50' });
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(config, createLogger('info', 'worker', logs), 'worker')],
    }).compile();
    ctx = await moduleRef.init();
    queue = ctx.get(BullJobQueue);
    runner = ctx.get(JobRunner);
    const url = new URL(config.redisUrl);
    events = new QueueEvents(QueueName.Maintenance, {
      connection: { host: url.hostname, port: Number(url.port), password: url.password || undefined },
      prefix: config.queuePrefix,
    });
    await events.waitUntilReady();
  });
  afterAll(async () => {
    await events.close();
    await ctx.close();
    await db.drop();
  });

  it('finds the handlers declared with @OnJob', () => {
    expect(runner.discoverHandlers()).toContain('maintenance.prune-idempotency');
  });

  it('retries a job that throws, with backoff, until it succeeds', async () => {
    const attempts: { attempt: number; at: number }[] = [];
    runner.register('test.flaky', async (payload, meta) => {
      attempts.push({ attempt: meta.attempt, at: Date.now() });
      if (meta.attempt <= payload.failTimes) throw new Error(`planned failure ${meta.attempt}`);
      return { ok: true };
    });
    await runner.start({ schedules: false });
    const done = new Promise<string>((resolve) =>
      events.on('completed', ({ returnvalue }) => resolve(JSON.stringify(returnvalue))),
    );
    await queue.enqueue('test.flaky', { key: 'a', failTimes: 2 });
    expect(await done).toContain('"ok":true');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // exponential backoff: 50 ms, then 100 ms
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(45);
    expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(95);
    expect(logs.lines.filter((l) => l.includes('will retry'))).toHaveLength(2);
  });

  it('records a job that keeps failing as failed, with its error', async () => {
    const failed = new Promise<string>((resolve) => events.on('failed', ({ failedReason }) => resolve(failedReason)));
    await queue.enqueue('test.flaky', { key: 'b', failTimes: 99 });
    expect(await failed).toBe('planned failure 3');
    const counts = await queue.counts();
    expect(counts.maintenance.failed).toBeGreaterThanOrEqual(1);
    expect(logs.lines.some((l) => l.includes('job failed for good'))).toBe(true);
  });

  it('never runs two jobs for one resource at once, and keeps one follow-up', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    runner.register('test.flaky', async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 150));
      running--;
      return { ok: true };
    });
    await queue.enqueue('test.flaky', { key: 'c', failTimes: 0 }, { resourceKey: 'cluster-1' });
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 5; i++)
      await queue.enqueue('test.flaky', { key: 'c', failTimes: 0 }, { resourceKey: 'cluster-1' });
    await new Promise((r) => setTimeout(r, 700));
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it('brings a pending look-later forward when a look-now comes for the same resource', async () => {
    const ranAt: number[] = [];
    runner.register('test.flaky', async () => {
      ranAt.push(Date.now());
      return { ok: true };
    });
    const t0 = Date.now();
    await queue.enqueue('test.flaky', { key: 'd', failTimes: 0 }, { resourceKey: 'cluster-2', delayMs: 10000 });
    // Another look-later does not push it out, nor add a second run.
    await queue.enqueue('test.flaky', { key: 'd', failTimes: 0 }, { resourceKey: 'cluster-2', delayMs: 20000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(ranAt).toEqual([]);
    await queue.enqueue('test.flaky', { key: 'd', failTimes: 0 }, { resourceKey: 'cluster-2' });
    await waitFor('the job to run', async () => ranAt.length === 1, 5000, 20);
    expect(ranAt[0] - t0).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 500));
    expect(ranAt).toHaveLength(1);
  });

  it('leaves a pending look-later where it is for an add that only makes sure there is a job', async () => {
    const ranAt: number[] = [];
    runner.register('test.flaky', async () => {
      ranAt.push(Date.now());
      return { ok: true };
    });
    await queue.enqueue('test.flaky', { key: 'e', failTimes: 0 }, { resourceKey: 'cluster-3', delayMs: 1500 });
    const t0 = Date.now();
    await queue.enqueue('test.flaky', { key: 'e', failTimes: 0 }, { resourceKey: 'cluster-3', ensureOnly: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(ranAt).toEqual([]);
    await waitFor('the look-later to run', async () => ranAt.length === 1, 5000, 20);
    expect(ranAt[0] - t0).toBeGreaterThanOrEqual(900);
    // With no job of the resource left (as when Redis lost it), the same add makes one, for now.
    const t1 = Date.now();
    await queue.enqueue('test.flaky', { key: 'e', failTimes: 0 }, { resourceKey: 'cluster-3', ensureOnly: true });
    await waitFor('the safety net to run', async () => ranAt.length === 2, 5000, 20);
    expect(ranAt[1] - t1).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ranAt).toHaveLength(2);
    // Beside a running job it queues no run after it either.
    runner.register('test.flaky', async () => {
      ranAt.push(Date.now());
      await new Promise((r) => setTimeout(r, 300));
      return { ok: true };
    });
    await queue.enqueue('test.flaky', { key: 'e', failTimes: 0 }, { resourceKey: 'cluster-3' });
    await waitFor('the long run to start', async () => ranAt.length === 3, 5000, 10);
    await queue.enqueue('test.flaky', { key: 'e', failTimes: 0 }, { resourceKey: 'cluster-3', ensureOnly: true });
    await new Promise((r) => setTimeout(r, 800));
    expect(ranAt).toHaveLength(3);
  });

  it('gathers adds that come within a short while into one run, bringing a look-later forward', async () => {
    const ranAt: number[] = [];
    runner.register('test.flaky', async () => {
      ranAt.push(Date.now());
      return { ok: true };
    });
    await queue.enqueue('test.flaky', { key: 'f', failTimes: 0 }, { resourceKey: 'cluster-4', delayMs: 10000 });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      await queue.enqueue('test.flaky', { key: 'f', failTimes: 0 }, { resourceKey: 'cluster-4', gatherMs: 200 });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor('the gathered run', async () => ranAt.length === 1, 5000, 10);
    expect(ranAt[0] - t0).toBeGreaterThanOrEqual(200);
    expect(ranAt[0] - t0).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 500));
    expect(ranAt).toHaveLength(1);
  });

  it("keeps a run asked for while a job ran over that job's own look-later (askedBefore)", async () => {
    const ranAt = new Map<string, number[]>();
    let lookLater: (resourceKey: string, asked: number) => Promise<void> = async () => undefined;
    const gate = new Map<string, () => void>();
    runner.register('test.flaky', async (payload) => {
      const key = (payload as { key: string }).key;
      const runs = ranAt.get(key) ?? [];
      ranAt.set(key, [...runs, Date.now()]);
      if (runs.length > 0) return { ok: true };
      // The first run counts the asks as it starts (as a pass does before reading its state),
      // waits until the test has asked for another run, then asks for a look later.
      const asked = await queue.asks('test.flaky', key);
      await new Promise<void>((resolve) => gate.set(key, resolve));
      await lookLater(key, asked);
      return { ok: true };
    });
    const runs = (key: string) => ranAt.get(key)?.length ?? 0;
    const scenario = async (key: string, withAsks: boolean) => {
      lookLater = (k, asked) =>
        queue.enqueue(
          'test.flaky',
          { key: k, failTimes: 0 },
          { resourceKey: k, delayMs: 10000, ...(withAsks ? { askedBefore: asked } : {}) },
        );
      await queue.enqueue('test.flaky', { key, failTimes: 0 }, { resourceKey: key });
      await waitFor('the first run', async () => gate.has(key), 5000, 10);
      await queue.enqueue('test.flaky', { key, failTimes: 0 }, { resourceKey: key, gatherMs: 100 });
      const t0 = Date.now();
      gate.get(key)!();
      return t0;
    };
    // With it, the run asked for stands: it comes about 100 ms after the first run ends.
    const t0 = await scenario('g', true);
    await waitFor('the run asked for while the first ran', async () => runs('g') === 2, 5000, 10);
    expect(ranAt.get('g')![1] - t0).toBeLessThan(3000);
    // Without it, the job's own look-later (added last) replaces the run asked for.
    await scenario('h', false);
    await new Promise((r) => setTimeout(r, 2000));
    expect(runs('h')).toBe(1);
    // With nothing asked for meanwhile, the look-later is all there is.
    lookLater = (k, asked) =>
      queue.enqueue('test.flaky', { key: k, failTimes: 0 }, { resourceKey: k, delayMs: 600, askedBefore: asked });
    const t1 = Date.now();
    await queue.enqueue('test.flaky', { key: 'i', failTimes: 0 }, { resourceKey: 'i' });
    await waitFor('the first run', async () => gate.has('i'), 5000, 10);
    gate.get('i')!();
    await waitFor('the look-later', async () => runs('i') === 2, 5000, 10);
    expect(ranAt.get('i')![1] - t1).toBeGreaterThanOrEqual(600);
    await new Promise((r) => setTimeout(r, 300));
    expect(runs('i')).toBe(2);
  });

  it('registers the schedule table idempotently', async () => {
    await runner.stop();
    await runner.start();
    await runner.start({ schedules: true }).catch(() => undefined);
    const schedulers = await queue.queue(QueueName.Maintenance).getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual([
      'backups-schedule',
      'clusters-autoscale',
      'clusters-resync',
      'network-collect',
      'prune-audit',
      'prune-events',
      'prune-idempotency',
    ]);
  });
});
