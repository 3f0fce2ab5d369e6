import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import { AuditPruner } from '../../src/audit/audit-pruner.js';
import { createLogger } from '../../src/common/logger.js';
import type { AppConfig } from '../../src/config/config.js';
import { EventsPruner } from '../../src/events/events-pruner.js';
import { BullJobQueue } from '../../src/jobs/bull-job-queue.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import type { JobPayloads } from '../../src/jobs/job-types.js';
import { scheduleTable } from '../../src/jobs/schedule.js';
import { LogSink, testConfig } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Retention of events and of the audit log, run as the workers run it: jobs on the maintenance queue. */
describe('retention of events and of the audit log', () => {
  let db: TestDatabase;
  let config: AppConfig;
  let worker: INestApplicationContext;
  let ds: DataSource;
  let queue: BullJobQueue;
  let handlers: string[];

  const payloadOf = <N extends 'maintenance.prune-events' | 'maintenance.prune-audit'>(name: N) =>
    scheduleTable(config).find((j) => j.name === name)!.payload as JobPayloads[N];

  /** `count` events of one cluster, oldest first, the first `old` of them `ageDays` old. */
  const addEvents = async (clusterId: string, count: number, old = 0, ageDays = 0) => {
    await ds.query(
      `INSERT INTO events (tenant_id, cluster_id, type, reason, message, created_at)
       SELECT $1, $2, 'Normal', 'Test', 'event ' || n,
              CASE WHEN n <= $4 THEN now() - make_interval(days => $5) ELSE now() END
       FROM generate_series(1, $3) AS n ORDER BY n`,
      [randomUUID(), clusterId, count, old, ageDays],
    );
  };
  const eventIds = async (clusterId: string): Promise<number[]> =>
    ((await ds.query(`SELECT id FROM events WHERE cluster_id = $1 ORDER BY id`, [clusterId])) as { id: string }[]).map(
      (r) => Number(r.id),
    );

  const addAudit = async (count: number, ageDays: number) => {
    await ds.query(
      `INSERT INTO audit_log (at, actor_kind, source_ip, method, path, status_code, outcome, request_id)
       SELECT now() - make_interval(days => $2), 'admin', '127.0.0.1', 'POST', '/v1/tenants', 201, 'success',
              'age-' || $2 || '-' || n
       FROM generate_series(1, $1) AS n`,
      [count, ageDays],
    );
  };
  const auditByAge = async (): Promise<Record<string, number>> => {
    const rows = (await ds.query(
      `SELECT split_part(request_id, '-', 2) AS age, count(*)::int AS n FROM audit_log GROUP BY 1`,
    )) as { age: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.age, r.n]));
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    config = testConfig(db.url, { KAAS_LOG_LEVEL: 'warn' });
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(config, createLogger('warn', 'worker', new LogSink()), 'worker')],
    }).compile();
    worker = await moduleRef.init();
    ds = worker.get(DataSource);
    queue = worker.get(BullJobQueue);
    handlers = worker.get(JobRunner).discoverHandlers();
    await worker.get(JobRunner).start({ schedules: false });
  });
  afterAll(async () => {
    await worker.close();
    await db.drop();
  });

  it('is scheduled with the settings, and a worker process runs both prunes', () => {
    expect(payloadOf('maintenance.prune-events')).toEqual({ keep: 1000, maxAgeDays: 30 });
    expect(payloadOf('maintenance.prune-audit')).toEqual({ olderThanDays: 90 });
    const tuned = testConfig(db.url, {
      KAAS_EVENTS_KEEP: '50',
      KAAS_EVENTS_MAX_AGE_DAYS: '7',
      KAAS_AUDIT_RETENTION_DAYS: '400',
    });
    expect(scheduleTable(tuned).filter((j) => j.name.startsWith('maintenance.prune-'))).toEqual([
      expect.objectContaining({ name: 'maintenance.prune-idempotency' }),
      expect.objectContaining({ name: 'maintenance.prune-events', payload: { keep: 50, maxAgeDays: 7 } }),
      expect.objectContaining({ name: 'maintenance.prune-audit', payload: { olderThanDays: 400 } }),
    ]);
    // The workers load no AuditModule (it serves routes), yet must run the audit prune.
    expect(handlers).toEqual(expect.arrayContaining(['maintenance.prune-events', 'maintenance.prune-audit']));
  });

  it('keeps per cluster the newest 1,000 events and none older than 30 days', async () => {
    const busy = randomUUID(); // 3,500 events, the oldest 100 of them 40 days old
    const aging = randomUUID(); // 10 events, 4 of them 31 days old, 6 of them new
    const quiet = randomUUID(); // exactly 1,000 new events
    const recentOld = randomUUID(); // 5 events 29 days old
    await addEvents(busy, 3500, 100, 40);
    await addEvents(aging, 10, 4, 31);
    await addEvents(quiet, 1000);
    await addEvents(recentOld, 5, 5, 29);
    const busyBefore = await eventIds(busy);
    const agingBefore = await eventIds(aging);
    const quietBefore = await eventIds(quiet);

    const result = await queue.runAndWait(
      'maintenance.prune-events',
      payloadOf('maintenance.prune-events'),
      undefined,
      60_000,
    );

    expect(result).toEqual({ deleted: 2500 + 4 });
    expect(await eventIds(busy)).toEqual(busyBefore.slice(-1000));
    expect(await eventIds(aging)).toEqual(agingBefore.slice(4));
    expect(await eventIds(quiet)).toEqual(quietBefore);
    expect(await eventIds(recentOld)).toHaveLength(5);
    // A second pass finds nothing more to do.
    expect(await worker.get(EventsPruner).prune(payloadOf('maintenance.prune-events'))).toEqual({ deleted: 0 });
  });

  it('walks past more clusters than one page holds, and 0 turns each rule off', async () => {
    await ds.query(`DELETE FROM events`);
    const clusters = Array.from({ length: 520 }, () => randomUUID());
    await ds.query(
      `INSERT INTO events (tenant_id, cluster_id, type, reason, message, created_at)
       SELECT c, c, 'Normal', 'Test', 'event', now() - make_interval(days => n)
       FROM unnest($1::uuid[]) AS c, generate_series(1, 3) AS n ORDER BY c, n DESC`,
      [clusters],
    );
    const pruner = worker.get(EventsPruner);
    expect(await pruner.prune({ keep: 0, maxAgeDays: 0 })).toEqual({ deleted: 0 });
    // Every cluster keeps its newest two; the walk must reach the clusters beyond the first page.
    expect(await pruner.prune({ keep: 2, maxAgeDays: 0 })).toEqual({ deleted: 520 });
    const counts = (await ds.query(
      `SELECT count(*)::int AS n FROM events WHERE cluster_id = ANY($1::uuid[]) GROUP BY cluster_id`,
      [clusters],
    )) as { n: number }[];
    expect(counts).toHaveLength(520);
    expect(counts.every((c) => c.n === 2)).toBe(true);
    expect(await pruner.prune({ keep: 0, maxAgeDays: 2 })).toEqual({ deleted: 520 });
    const [{ left }] = (await ds.query(`SELECT count(*)::int AS left FROM events WHERE cluster_id = ANY($1::uuid[])`, [
      clusters,
    ])) as { left: number }[];
    expect(left).toBe(520);
  });

  it('deletes audit records older than the setting in batches, keeps the newer, and stays append-only', async () => {
    await addAudit(12_000, 120); // more than two batches
    await addAudit(3, 91);
    await addAudit(3, 89);
    await addAudit(3, 0);
    expect(await auditByAge()).toEqual({ '120': 12_000, '91': 3, '89': 3, '0': 3 });

    const result = await queue.runAndWait(
      'maintenance.prune-audit',
      payloadOf('maintenance.prune-audit'),
      undefined,
      60_000,
    );

    expect(result).toEqual({ deleted: 12_003 });
    expect(await auditByAge()).toEqual({ '89': 3, '0': 3 });
    // The retention step's setting stays in its own transactions: the pool's connections refuse as before.
    for (let i = 0; i < 5; i++) {
      await expect(ds.query(`DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
    }
    await expect(ds.query(`UPDATE audit_log SET status_code = 200`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    // Updates stay refused even inside a retention transaction.
    await expect(
      ds.transaction(async (tx) => {
        await tx.query(`SET LOCAL kaas.audit_retention = 'on'`);
        await tx.query(`UPDATE audit_log SET status_code = 200`);
      }),
    ).rejects.toThrow(/append-only/);
    const pruner = worker.get(AuditPruner);
    expect(await pruner.prune({ olderThanDays: 0 })).toEqual({ deleted: 0 });
    expect(await pruner.prune({ olderThanDays: 30 })).toEqual({ deleted: 3 });
    expect(await auditByAge()).toEqual({ '0': 3 });
  });
});
