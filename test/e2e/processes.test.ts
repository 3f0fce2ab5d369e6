import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { freePort, kaasctl, type Proc, randomEnv, startProcess, waitFor } from '../support/processes.js';

describe('the real API and worker processes, driven over HTTP and with kaasctl', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let api: Proc;
  let worker: Proc;
  let admin: Client;
  let cli: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    env = randomEnv(db.url, port);
    api = startProcess('main.js', env);
    worker = startProcess('worker.js', env);
    admin = new Client(`http://127.0.0.1:${port}`, env.KAAS_ADMIN_TOKEN);
    cli = { KAAS_URL: `http://127.0.0.1:${port}`, KAAS_ADMIN_TOKEN: env.KAAS_ADMIN_TOKEN };
    await waitFor('the API', async () => (await admin.call('GET', '/readyz')).status === 200);
    await waitFor('the worker', async () => worker.output().includes('"worker started"'));
  }, 60000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await db.drop();
  });

  it('logs JSON lines with request ids and never the tokens', async () => {
    await admin.call('GET', '/v1/tenants', undefined, { 'x-request-id': 'e2e-log-check' });
    await waitFor('the access log line', async () => api.output().includes('e2e-log-check'));
    const lines = api.output().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(api.output()).not.toContain(env.KAAS_ADMIN_TOKEN);
  });

  it("runs a tenant's life through kaasctl", async () => {
    const created = await kaasctl(['tenants', 'create', 'cli-co', '-o', 'json'], cli);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const tenant = JSON.parse(created.stdout);
    expect(tenant.apiKey).toMatch(/^kaas_/);

    const table = await kaasctl(['tenants', 'list'], cli);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+CLUSTERS\s.*\sAGE$/);
    expect(table.stdout).toContain('cli-co');

    const quota = await kaasctl(['tenants', 'quota', 'set', 'cli-co', '--max-storage-gib', '15', '-o', 'json'], cli);
    expect(JSON.parse(quota.stdout).quota.maxStorageGiB).toBe(15);

    const pool = await kaasctl(
      ['--tenant', 'cli-co', 'storage-pools', 'create', 'disks', '--capacity-gib', '10', '-o', 'json'],
      cli,
    );
    expect(pool.code).toBe(0);
    expect(JSON.parse(pool.stdout)).toEqual(
      expect.objectContaining({ name: 'disks', capacityGiB: 10, allocatedGiB: 0 }),
    );
    const over = await kaasctl(['--tenant', 'cli-co', 'storage-pools', 'create', 'more', '--capacity-gib', '10'], cli);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/422: quota maxStorageGiB exceeded/);

    const key = await kaasctl(['api-keys', 'create', '--tenant', 'cli-co', '-o', 'json'], cli);
    const { id: keyId, apiKey } = JSON.parse(key.stdout);
    const asTenant = { KAAS_URL: cli.KAAS_URL, KAAS_TOKEN: apiKey, KAAS_ADMIN_TOKEN: '' };
    const mine = await kaasctl(['storage-pools', 'list', '-o', 'json'], { ...asTenant, KAAS_ADMIN_TOKEN: apiKey });
    expect(JSON.parse(mine.stdout).map((p: { name: string }) => p.name)).toEqual(['disks']);

    expect((await kaasctl(['api-keys', 'revoke', keyId, '--tenant', 'cli-co'], cli)).code).toBe(0);
    const refused = await kaasctl(['storage-pools', 'list'], { ...asTenant, KAAS_ADMIN_TOKEN: apiKey });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/401/);

    const removed = await kaasctl(['--tenant', 'cli-co', 'storage-pools', 'delete', 'disks'], cli);
    expect(removed.stdout).toContain('deleted');
    const show = await kaasctl(['tenants', 'show', 'cli-co', '-o', 'json'], cli);
    expect(JSON.parse(show.stdout).usage.storageGiB).toBe(0);
  });

  it('manages VPCs and floating IPs through kaasctl', async () => {
    expect((await kaasctl(['tenants', 'create', 'net-co'], cli)).code).toBe(0);
    const range = await kaasctl(['floating-ips', 'add-range', '10.254.0.0/29', '-o', 'json'], cli);
    expect(JSON.parse(range.stdout)).toEqual(
      expect.objectContaining({ start: '10.254.0.2', end: '10.254.0.6', free: 5 }),
    );
    const vpc = await kaasctl(
      ['--tenant', 'net-co', 'vpcs', 'create', 'prod', '--cidr', '10.9.0.0/24', '-o', 'json'],
      cli,
    );
    expect(JSON.parse(vpc.stdout)).toEqual(expect.objectContaining({ name: 'prod', gateway: '10.9.0.1' }));
    const bad = await kaasctl(['--tenant', 'net-co', 'vpcs', 'create', 'pub', '--cidr', '8.8.8.0/24'], cli);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400: cidr: must lie in a private range/);
    const fip = await kaasctl(['--tenant', 'net-co', 'floating-ips', 'create', '-o', 'json'], cli);
    expect(JSON.parse(fip.stdout).address).toBe('10.254.0.2');
    const ranges = await kaasctl(['floating-ips', 'ranges'], cli);
    expect(ranges.stdout).toMatch(/10\.254\.0\.0\/29\s+10\.254\.0\.2\s+10\.254\.0\.6\s+1\s+4/);
    expect((await kaasctl(['--tenant', 'net-co', 'floating-ips', 'delete', '10.254.0.2'], cli)).code).toBe(0);
    expect((await kaasctl(['--tenant', 'net-co', 'vpcs', 'delete', 'prod'], cli)).code).toBe(0);
    const none = await kaasctl(['--tenant', 'net-co', 'vpcs', 'list', '-o', 'json'], cli);
    expect(JSON.parse(none.stdout)).toEqual([]);
  });

  it('kaasctl says clearly when the API is not there', async () => {
    const res = await kaasctl(['tenants', 'list'], {
      KAAS_URL: 'http://127.0.0.1:9',
      KAAS_ADMIN_TOKEN: 'x'.repeat(20),
    });
    // 1: failed (2 is for a command line kaasctl cannot use)
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/cannot reach the kaas API at http:\/\/127.0.0.1:9/);
  });

  it('the worker registered its schedules in Redis', async () => {
    const { Queue } = await import('bullmq');
    const url = new URL(env.REDIS_URL);
    const q = new Queue('maintenance', {
      connection: { host: url.hostname, port: Number(url.port), password: url.password || undefined },
      prefix: env.KAAS_QUEUE_PREFIX,
    });
    const schedulers = await q.getJobSchedulers();
    await q.close();
    expect(schedulers.map((s) => s.key)).toContain('prune-idempotency');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    expect(await worker.stop('SIGTERM')).toBe(0);
  });
});

describe('configuration errors', () => {
  it.each([
    ['KAAS_PORT', 'eighty', /KAAS_PORT: must be a whole number/],
    ['DATABASE_URL', 'not a url', /DATABASE_URL: is not a valid URL/],
    ['KAAS_SECRET_KEY', 'short', /KAAS_SECRET_KEY: must be 32 bytes/],
    ['REDIS_URL', 'http://x', /REDIS_URL: must use redis: or rediss:/],
  ])('%s=%s stops the API with one line naming it', async (name, value, message) => {
    const env = { ...randomEnv('postgres://kaas@127.0.0.1:1/x', 1), [name]: value };
    const proc = startProcess('main.js', env);
    const code = await proc.stop('SIGCONT');
    expect(code).toBe(78);
    const lines = proc.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
