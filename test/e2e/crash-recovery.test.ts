import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/config/data-source.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { FAST_SIMULATION, clusterBody, waitForPhase } from '../support/platform.js';
import { freePort, type Proc, randomEnv, startProcess, waitFor } from '../support/processes.js';
import { Client } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Deterministic pseudo-random numbers, so a failing seed can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = Number(process.env.KAAS_CRASH_SEEDS ?? 20);
/** Where the seeds start (another run, other seeds: KAAS_CRASH_FIRST_SEED=21). */
const FIRST_SEED = Number(process.env.KAAS_CRASH_FIRST_SEED ?? 1);

describe('a worker killed with SIGKILL at random steps', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let api: Proc;
  let worker: Proc;
  let admin: Client;
  let host: LibvirtTestHost;
  let ds: DataSource;

  const startWorker = async () => {
    worker = startProcess('worker.js', env);
    await waitFor('the worker', async () => worker.output().includes('"worker started"'), 20000);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    env = {
      ...randomEnv(db.url, await freePort()),
      ...FAST_SIMULATION,
      KAAS_HOST_LEASE_MS: '2000',
      KAAS_JOB_LOCK_MS: '2000',
      KAAS_RESYNC_SECONDS: '1',
      UV_THREADPOOL_SIZE: '16',
    };
    api = startProcess('main.js', env);
    admin = new Client(`http://127.0.0.1:${env.KAAS_PORT}`, env.KAAS_ADMIN_TOKEN);
    await waitFor('the API', async () => (await admin.call('GET', '/readyz')).status === 200, 30000);
    await startWorker();
    host = await createLibvirtTestHost({ cpus: 64, memoryKiB: 256 * 1024 * 1024 });
    const h = await admin.call('POST', '/v1/hosts', { name: 'sim', uri: host.uri, domainType: 'qemu' });
    await waitFor(
      'the host',
      async () => (await admin.call('GET', `/v1/hosts/${h.body.id}`)).body.state === 'Ready',
      20000,
    );
    await admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.240.0.0/24' });
    ds = await new DataSource(dataSourceOptions(db.url)).initialize();
  }, 90000);

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await api?.stop();
    await ds?.destroy();
    await host?.cleanup();
    await db?.drop();
  });

  it(`converges to the same end state for ${SEEDS} seeds`, async () => {
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const random = mulberry32(seed);
      const t = await admin.call('POST', '/v1/tenants', { name: `crash-${seed}` });
      const tenant = admin.as(t.body.apiKey);
      const vpc = (await tenant.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.30.0.0/24' })).body;
      const pool = (await tenant.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 500 })).body;
      const fip = (await tenant.call('POST', '/v1/floating-ips', {})).body;
      const s = { vpcId: vpc.id, poolId: pool.id, floatingIpId: fip.id };
      // The step at which the worker dies: during creation, scaling or deletion.
      const step = Math.floor(random() * 3);
      const killAfterMs = Math.floor(random() * 1200);
      const kill = async () => {
        await new Promise((r) => setTimeout(r, killAfterMs));
        await worker.stop('SIGKILL');
        await startWorker();
      };
      const created = await tenant.call('POST', '/v1/clusters', clusterBody(s as never, { workers: 2 }));
      expect(created.status).toBe(202);
      const id = created.body.id as string;
      if (step === 0) await kill();
      await waitForPhase(tenant, id, 'Running', 60000);
      await tenant.call('PATCH', `/v1/clusters/${id}`, { workers: 3 });
      if (step === 1) await kill();
      await waitForPhase(tenant, id, 'Running', 60000, (c) => (c.nodeCounts as { ready: number }).ready === 4);
      const nodes = (await tenant.call('GET', `/v1/clusters/${id}/nodes`)).body.items as {
        role: string;
        address: string;
      }[];
      expect(nodes.map((n) => n.role).sort()).toEqual(['master', 'worker', 'worker', 'worker']);
      expect(new Set(nodes.map((n) => n.address)).size).toBe(4);
      await tenant.call('DELETE', `/v1/clusters/${id}`);
      if (step === 2) await kill();
      await waitFor(
        `seed ${seed}: the cluster to be gone`,
        async () => (await tenant.call('GET', `/v1/clusters/${id}`)).status === 404,
        60000,
      );
      const [left] = await ds.query(
        `SELECT (SELECT count(*) FROM nodes) AS nodes, (SELECT count(*) FROM volumes) AS volumes,
                (SELECT count(*) FROM ip_allocations WHERE released_at IS NULL) AS ips,
                (SELECT count(*) FROM floating_ips WHERE cluster_id IS NOT NULL) AS fips,
                (SELECT count(*) FROM clusters) AS clusters`,
      );
      expect({ seed, ...left }).toEqual({ seed, nodes: '0', volumes: '0', ips: '0', fips: '0', clusters: '0' });
    }
    const unique = await ds.query(
      `SELECT vpc_id, address, count(*) FROM ip_allocations GROUP BY 1, 2 HAVING count(*) > 1`,
    );
    expect(unique).toEqual([]);
  }, 1200000);
});
