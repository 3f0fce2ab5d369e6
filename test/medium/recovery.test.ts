import { randomUUID } from 'node:crypto';
import { NetworkCollector } from '../../src/reconcilers/network/network-collector.handler.js';
import { testNorthbound } from '../support/northbound-per-file.js';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { FactoryProvider, INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import { ClusterReconciler } from '../../src/reconcilers/cluster/cluster.reconciler.js';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { HostsRepository } from '../../src/hypervisor/hosts.repository.js';
import { createLogger } from '../../src/common/logger.js';
import type { AppConfig } from '../../src/config/config.js';
import { BullJobQueue } from '../../src/jobs/bull-job-queue.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { scheduleTable } from '../../src/jobs/schedule.js';
import { createLibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { redisProvider } from '../../src/jobs/redis.provider.js';
import { freePort, freeStablePort, waitFor } from '../support/processes.js';
import {
  clusterBody,
  FAST_SIMULATION,
  type Platform,
  startPlatform,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';
import { LogSink, startTestApp, testConfig, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

jest.setTimeout(60000);

/** Redis is a queue, PostgreSQL is the truth: work whose job Redis lost is still done. */
describe('what a lost job or a lost lease leaves behind (simulated host)', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('the resync finds a cluster whose accepted size change lost its job', async () => {
    const s = await tenantWithInfra(p, 'lost-patch');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    await waitForPhase(s.client, created.body.id, 'Running');
    // What an accepted PATCH leaves when Redis loses its job: the new size, in the database only.
    await p.app.get(DataSource).query(
      `UPDATE clusters SET workers = 2, worker_pools = jsonb_set(worker_pools, '{0,count}', '2'),
                worker_vcpus = 2 * vcpus, worker_memory_mib = 2 * memory_mib, worker_disk_gib = 2 * disk_gib
          WHERE id = $1`,
      [created.body.id],
    );
    expect(await p.worker.get(ClusterReconciler).resync()).toEqual({ enqueued: 1 });
    await waitForPhase(
      s.client,
      created.body.id,
      'Running',
      30000,
      (c) => (c.nodeCounts as { ready: number }).ready === 3,
    );
  });

  it('the network collection removes rows of nobody and puts back a missing port', async () => {
    const s = await tenantWithInfra(p, 'orphan-rows');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    await waitForPhase(s.client, created.body.id, 'Running');
    const nb = testNorthbound();
    const nbctl = async (...args: string[]) =>
      (await nb.exec('ovn-nbctl', [`--db=${nb.remote}`, ...args])).stdout.trim();
    const ports = async () =>
      (
        await nbctl(
          '--bare',
          '--columns=name',
          'find',
          'Logical_Switch_Port',
          `external_ids:kaas\\:vpc-id=${s.vpcId}`,
          'external_ids:kaas\\:kind=node-port',
        )
      )
        .split(/\s+/)
        .filter(Boolean)
        .sort();
    const before = await ports();
    expect(before).toHaveLength(2);
    // What a crash between a teardown's steps, or a hand, leaves: a port of a node that does not
    // exist, a switch of a VPC that does not exist; and a live node's port gone.
    const ghost = randomUUID();
    const ghostVpc = randomUUID();
    await nbctl(
      'lsp-add',
      `kaas-vpc-${s.vpcId}`,
      ghost,
      '--',
      'set',
      'Logical_Switch_Port',
      ghost,
      `external_ids:kaas\\:kind=node-port`,
      `external_ids:kaas\\:node-id=${ghost}`,
      `external_ids:kaas\\:vpc-id=${s.vpcId}`,
      `external_ids:kaas\\:tenant-id=${s.tenantId}`,
      `external_ids:kaas\\:cluster-id=${created.body.id}`,
    );
    await nbctl(
      'ls-add',
      `kaas-vpc-${ghostVpc}`,
      '--',
      'set',
      'Logical_Switch',
      `kaas-vpc-${ghostVpc}`,
      `external_ids:kaas\\:kind=vpc-switch`,
      `external_ids:kaas\\:vpc-id=${ghostVpc}`,
      `external_ids:kaas\\:tenant-id=${s.tenantId}`,
    );
    await nbctl('lsp-del', before[0]);
    const collector = p.worker.get(NetworkCollector);
    const first = await collector.collect({});
    expect(first).toEqual({ removed: 2, repaired: 1 });
    await waitFor('the port to be back', async () => JSON.stringify(await ports()) === JSON.stringify(before), 10000);
    expect(await nbctl('--bare', '--columns=name', 'find', 'Logical_Switch', `name=kaas-vpc-${ghostVpc}`)).toBe('');
    expect(await collector.collect({})).toEqual({ removed: 0, repaired: 0 });
  });
});

describe('schedules lost with Redis data', () => {
  let db: TestDatabase;
  let ctx: INestApplicationContext;
  let config: AppConfig;

  beforeAll(async () => {
    db = await createTestDatabase();
    config = testConfig(db.url);
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(config, createLogger('warn', 'worker', new LogSink()), 'worker')],
    }).compile();
    ctx = await moduleRef.init();
  });
  afterAll(async () => {
    await ctx?.close();
    await db?.drop();
  });

  it('registers the schedules again when Redis comes back without them', async () => {
    const runner = ctx.get(JobRunner);
    const queue = ctx.get(BullJobQueue);
    const table = scheduleTable(config);
    for (const job of table) await queue.upsertSchedule(job);
    expect(await queue.hasSchedule(table[0])).toBe(true);
    expect(await runner.restoreSchedules()).toEqual([]);
    // Every key of this platform goes, as when Redis fails over to a replica that lagged.
    const redis = new Redis(config.redisUrl);
    try {
      const keys = await redis.keys(`${config.queuePrefix}:*`);
      if (keys.length) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    expect(await queue.hasSchedule(table[0])).toBe(false);
    expect(await runner.restoreSchedules()).toEqual(table.map((j) => j.id));
    for (const job of table) expect(await queue.hasSchedule(job)).toBe(true);
  });
});

describe('a write while Redis is away', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ ...FAST_SIMULATION, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  }, 60000);
  afterAll(async () => {
    await t?.close();
  });

  it('is accepted once its desired state is in the database (the resync enqueues it later)', async () => {
    const host = await createLibvirtTestHost({ cpus: 8, memoryKiB: 16 * 1024 * 1024 });
    try {
      expect((await t.admin.call('POST', '/v1/hosts', { name: 'h', uri: host.uri, domainType: 'qemu' })).status).toBe(
        201,
      );
      const s = await tenantWithInfra(t, 'no-redis');
      const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 0 }));
      expect(created.status).toBe(202);
      const patched = await s.client.call('PATCH', `/v1/clusters/${created.body.id}`, { workers: 1 });
      expect(patched.status).toBe(202);
      expect((await s.client.call('DELETE', `/v1/clusters/${created.body.id}`)).status).toBe(202);
      const [row] = await t.app
        .get(DataSource)
        .query(`SELECT workers, deleting_at FROM clusters WHERE id = $1`, [created.body.id]);
      expect(row).toEqual({ workers: 1, deleting_at: expect.any(Date) });
    } finally {
      await host.cleanup();
    }
  });
});

/**
 * A TCP relay to the shared Redis: it stands in for a Redis that goes away (connections refused)
 * and comes back on the same port.
 */
async function redisRelay(): Promise<{ url: string; cut(): void; restore(): Promise<void>; close(): void }> {
  const target = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:56379');
  const port = await freeStablePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server?.listening) return resolve();
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        // Either side gone ends the other, as a Redis that closes a connection would.
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const cut = () => {
    server?.close();
    for (const s of sockets) s.destroy();
  };
  await listen();
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return { url: url.toString(), cut, restore: listen, close: cut };
}

describe('a queue first used while Redis goes away', () => {
  it('works again once Redis is back', async () => {
    const relay = await redisRelay();
    const config = testConfig('postgres://unused@127.0.0.1:1/x', { REDIS_URL: relay.url });
    const logger = createLogger('silent', 'worker');
    const redis = (redisProvider as FactoryProvider<Redis>).useFactory(config, logger) as Redis;
    const queue = new BullJobQueue(config, logger, redis);
    try {
      await queue.ping();
      // Redis dies just as the queue of a job is made for the first time.
      relay.cut();
      await expect(queue.enqueue('test.flaky', { key: 'k', failTimes: 0 })).rejects.toThrow();
      await relay.restore();
      await waitFor('Redis to be back', () => queue.ping().then(() => true));
      await queue.enqueue('test.flaky', { key: 'k', failTimes: 0 });
      expect((await queue.counts()).maintenance.waiting).toBe(1);
    } finally {
      await queue.onModuleDestroy();
      relay.close();
    }
  });
});

describe('a worker that cannot renew its host lease', () => {
  it('stops touching the host before the lease can lapse, and takes it back later', async () => {
    const relay = await redisRelay();
    const db = await createTestDatabase();
    const host = await createLibvirtTestHost();
    const config = testConfig(db.url, { REDIS_URL: relay.url, KAAS_HOST_LEASE_MS: '1500' });
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(config, createLogger('silent', 'worker'), 'worker')],
    }).compile();
    const ctx = await moduleRef.init();
    try {
      const { id } = await ctx.get(HostsRepository).insert({
        name: 'leased',
        uri: host.uri,
        domainType: 'qemu',
        simulated: true,
        state: 'Pending',
        cpus: 4,
        memoryMiB: 8192,
      });
      const leases = ctx.get(HostLeases);
      await leases.start();
      await waitFor('the lease', async () => leases.runtime(id) !== undefined);
      relay.cut();
      // Another worker may take the host once the lease has lapsed in Redis, at most 1.5 s after
      // the last renewal this one sent: by then this one must have stopped using it.
      await new Promise((r) => setTimeout(r, 1500));
      expect(leases.runtime(id)).toBeUndefined();
      await relay.restore();
      await waitFor('the lease again', async () => leases.runtime(id) !== undefined, 15000);
    } finally {
      await relay.restore();
      await ctx.close();
      relay.close();
      await host.cleanup();
      await db.drop();
    }
  });
});

describe('a worker pinned to hosts (KAAS_WORKER_HOSTS)', () => {
  it('holds exactly its hosts; the others leave them alone and take them back when it goes', async () => {
    const db = await createTestDatabase();
    const libvirtHosts = await Promise.all([1, 2, 3].map(() => createLibvirtTestHost()));
    // Two workers of one platform: one database, one queue prefix in Redis.
    const prefix = `kaas-t-pin-${process.pid}-${Date.now()}`;
    const start = async (env: Record<string, string>) => {
      const config = testConfig(db.url, { KAAS_QUEUE_PREFIX: prefix, ...env });
      const moduleRef = await Test.createTestingModule({
        imports: [AppModule.forRoot(config, createLogger('silent', 'worker'), 'worker')],
      }).compile();
      return moduleRef.init();
    };
    const any = await start({ KAAS_HOST_LEASE_MS: '1500' });
    let pinned: Awaited<ReturnType<typeof start>> | undefined;
    try {
      const ids: string[] = [];
      for (const [i, h] of libvirtHosts.entries()) {
        const { id } = await any.get(HostsRepository).insert({
          name: `hv-${i + 1}`,
          uri: h.uri,
          domainType: 'qemu',
          simulated: true,
          state: 'Pending',
          cpus: 4,
          memoryMiB: 8192,
        });
        ids.push(id);
      }
      const owned = (ctx: { get: typeof any.get }) => ctx.get(HostLeases).ownedHostIds().sort();
      await any.get(HostLeases).start();
      await waitFor('all three hosts', async () => owned(any).length === 3);
      pinned = await start({ KAAS_HOST_LEASE_MS: '1500', KAAS_WORKER_HOSTS: 'hv-2, hv-9' });
      await pinned.get(HostLeases).start();
      await waitFor('the pinned worker to hold hv-2', async () => owned(pinned!).join() === ids[1], 15000);
      expect(owned(any)).toEqual([ids[0], ids[2]].sort());
      // More rounds change nothing: the unpinned worker does not take hv-2 back, nor hv-2's holder the rest.
      await new Promise((r) => setTimeout(r, 1500));
      expect(owned(pinned)).toEqual([ids[1]]);
      expect(owned(any)).toEqual([ids[0], ids[2]].sort());
      await pinned.close();
      pinned = undefined;
      await waitFor('hv-2 back with the unpinned worker', async () => owned(any).length === 3, 15000);
    } finally {
      await pinned?.close();
      await any.close();
      for (const h of libvirtHosts) await h.cleanup();
      await db.drop();
    }
  });
});
