import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parse } from 'yaml';
import type { ClusterSecrets } from '../../src/control-plane/cluster-pki.js';
import { decryptSecret } from '../../src/common/secrets.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { FAST_SIMULATION } from '../support/platform.js';
import { freePort, kaasctl, type Proc, randomEnv, startProcess, waitFor } from '../support/processes.js';
import { type Answer, Client } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** Every form in which a secret could show up in a log line or a JSON body. */
function forms(secret: string): string[] {
  const out = new Set([secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]);
  out.add(JSON.stringify(secret).slice(1, -1)); // as a JSON string (a PEM's newlines escaped)
  if (secret.includes('-----BEGIN')) {
    // Each line of a PEM's body alone is enough to give a key away.
    for (const line of secret.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) out.add(line);
  }
  const apiKey = /^kaas_[0-9a-f]{16}_(.+)$/.exec(secret);
  if (apiKey) out.add(apiKey[1]);
  return [...out];
}

describe('secrets never reach logs or error bodies (real processes, log level debug)', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let api: Proc;
  let worker: Proc;
  let host: LibvirtTestHost;
  let admin: Client;
  const secrets = new Map<string, string>();
  const answers: { what: string; answer: Answer }[] = [];

  /** Calls the API and keeps every error answer for the search at the end. */
  const call = async (
    client: Client,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => {
    const answer = await client.call(method, path, body, headers);
    if (answer.status >= 400) answers.push({ what: `${method} ${path}`, answer });
    return answer;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { ...randomEnv(db.url, await freePort()), ...FAST_SIMULATION, KAAS_LOG_LEVEL: 'debug' };
    api = startProcess('main.js', env);
    worker = startProcess('worker.js', env);
    admin = new Client(`http://127.0.0.1:${env.KAAS_PORT}`, env.KAAS_ADMIN_TOKEN);
    await waitFor('the API', async () => (await admin.call('GET', '/readyz')).status === 200, 30000);
    await waitFor('the worker', async () => worker.output().includes('"worker started"'), 30000);
    host = await createLibvirtTestHost({ cpus: 32, memoryKiB: 64 * 1024 * 1024 });
    secrets.set('admin token', env.KAAS_ADMIN_TOKEN);
    secrets.set('KAAS_SECRET_KEY', env.KAAS_SECRET_KEY);
    secrets.set('KAAS_SECRET_KEY (bytes as base64)', Buffer.from(env.KAAS_SECRET_KEY, 'hex').toString('base64'));
    for (const name of ['DATABASE_URL', 'REDIS_URL'] as const) {
      // The services of make test ask for passwords (scripts/services.sh).
      const password = new URL(env[name]).password;
      expect({ name, password: password.length > 0 }).toEqual({ name, password: true });
      secrets.set(`${name} password`, password);
    }
  }, 60000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await host?.cleanup();
    await db?.drop();
  });

  it('runs a full flow: tenant, keys, network, storage, a cluster to Running, its kubeconfig, failures', async () => {
    const registered = await call(admin, 'POST', '/v1/hosts', { name: 'sim', uri: host.uri, domainType: 'qemu' });
    expect(registered.status).toBe(201);
    await waitFor(
      'the host',
      async () => (await admin.call('GET', `/v1/hosts/${registered.body.id}`)).body.state === 'Ready',
    );
    expect((await call(admin, 'POST', '/v1/floating-ip-ranges', { cidr: '10.246.0.0/28' })).status).toBe(201);

    const tenant = await call(admin, 'POST', '/v1/tenants', { name: 'acme' });
    expect(tenant.status).toBe(201);
    secrets.set('first API key', tenant.body.apiKey);
    const extra = await call(admin, 'POST', `/v1/tenants/${tenant.body.id}/api-keys`, {}, { 'idempotency-key': 'k-1' });
    secrets.set('second API key', extra.body.apiKey);
    // The replayed answer carries the key again, from the encrypted idempotency record.
    const replay = await call(
      admin,
      'POST',
      `/v1/tenants/${tenant.body.id}/api-keys`,
      {},
      { 'idempotency-key': 'k-1' },
    );
    expect(replay.body.apiKey).toBe(extra.body.apiKey);
    const operatorKey = await call(admin, 'POST', '/v1/admin-tokens', { description: 'second operator' });
    secrets.set('second admin token', operatorKey.body.apiKey);

    const acme = admin.as(tenant.body.apiKey);
    const vpc = await call(acme, 'POST', '/v1/vpcs', { name: 'prod', cidr: '10.1.0.0/24' });
    const pool = await call(acme, 'POST', '/v1/storage-pools', { name: 'fast', capacityGiB: 100 });
    const fip = await call(acme, 'POST', '/v1/floating-ips', {});
    const cluster = await call(admin.as(extra.body.apiKey), 'POST', '/v1/clusters', {
      name: 'web',
      controlPlane: 'etcd',
      masters: 1,
      workers: 1,
      nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
      vpcId: vpc.body.id,
      storagePoolId: pool.body.id,
      floatingIpId: fip.body.id,
    });
    expect(cluster.status).toBe(202);
    await waitFor(
      'the cluster to be Running',
      async () => (await acme.call('GET', `/v1/clusters/${cluster.body.id}`)).body.phase === 'Running',
      60000,
    );

    const kubeconfig = await call(acme, 'GET', `/v1/clusters/${cluster.body.id}/kubeconfig`);
    expect(kubeconfig.status).toBe(200);
    const user = (parse(kubeconfig.body as unknown as string) as { users: { user: Record<string, string> }[] }).users[0]
      .user;
    secrets.set('kubeconfig client-key-data', user['client-key-data']);
    secrets.set('kubeconfig client-certificate-data', user['client-certificate-data']);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ sealed: string }>(
      'SELECT sealed FROM cluster_secrets WHERE cluster_id = $1',
      [cluster.body.id],
    );
    await client.end();
    const stored = JSON.parse(
      decryptSecret(Buffer.from(env.KAAS_SECRET_KEY, 'hex'), rows[0].sealed, cluster.body.id),
    ) as ClusterSecrets;
    secrets.set('cluster CA key', stored.caKeyPem);
    secrets.set('cluster admin key', stored.adminKeyPem);
    secrets.set('cluster admin certificate', stored.adminCertPem);
    secrets.set('cluster join token', stored.joinToken);
    // The kubeconfig carries a credential made for that download, never the cluster's admin key.
    expect(Buffer.from(user['client-key-data'], 'base64').toString()).not.toBe(stored.adminKeyPem);
    expect(Buffer.from(user['client-key-data'], 'base64').toString()).toMatch(/BEGIN PRIVATE KEY/);

    // Failures, some carrying near-misses of real secrets.
    const nearMiss = `${tenant.body.apiKey.slice(0, -1)}${tenant.body.apiKey.endsWith('A') ? 'B' : 'A'}`;
    secrets.set('a near miss of a key', nearMiss);
    expect((await call(admin.as(nearMiss), 'GET', '/v1/clusters')).status).toBe(401);
    expect((await call(admin.as(`${env.KAAS_ADMIN_TOKEN}x`), 'GET', '/v1/tenants')).status).toBe(401);
    expect((await call(acme, 'GET', '/v1/tenants')).status).toBe(403);
    expect((await call(acme, 'POST', '/v1/vpcs', { name: 'prod', cidr: '10.1.0.0/24' })).status).toBe(409);
    expect((await call(acme, 'POST', '/v1/storage-pools', { name: 'x', capacityGiB: 'lots' })).status).toBe(400);
    expect((await call(acme, 'GET', '/v1/clusters/00000000-0000-4000-8000-000000000000/kubeconfig')).status).toBe(404);
    expect((await call(admin, 'DELETE', `/v1/tenants/${tenant.body.id}/api-keys/${extra.body.id}`)).status).toBe(204);
    expect((await call(admin.as(extra.body.apiKey), 'GET', '/v1/clusters')).status).toBe(401);

    // The audit log shows these writes, through kaasctl, and holds no secret either.
    const cli = { KAAS_URL: `http://127.0.0.1:${env.KAAS_PORT}`, KAAS_ADMIN_TOKEN: env.KAAS_ADMIN_TOKEN };
    const audit = await kaasctl(['audit', '--tenant', 'acme', '--limit', '50', '-o', 'json'], cli);
    expect(audit.stderr).toBe('');
    const items = JSON.parse(audit.stdout) as { path: string; statusCode: number; tenantId: string }[];
    expect(items.every((i) => i.tenantId === tenant.body.id)).toBe(true);
    expect(items.map((i) => `${i.path} ${i.statusCode}`)).toEqual(
      expect.arrayContaining(['/v1/clusters 202', '/v1/vpcs 409', `/v1/tenants/${tenant.body.id}/api-keys 201`]),
    );
    const table = await kaasctl(['audit', '--since', '1h', '--limit', '5'], cli);
    expect(table.stdout.split('\n')[0]).toMatch(/^AT\s+ACTOR\s+TENANT\s+METHOD\s+PATH\s+STATUS\s+OUTCOME/);
    expect(table.stdout.trim().split('\n')).toHaveLength(6);
    answers.push({ what: 'kaasctl audit', answer: { status: 200, body: items as never, headers: new Headers() } });
  }, 120000);

  it('finds none of them in the output of the API and the worker, nor in any error answer', async () => {
    expect(secrets.size).toBe(15);
    await api.stop();
    await worker.stop();
    const sources: [string, string][] = [
      ['API output', api.output()],
      ['worker output', worker.output()],
      ...answers.map(({ what, answer }): [string, string] => [`answer to ${what}`, JSON.stringify(answer.body)]),
    ];
    // The search has something to search: debug-level output of both processes, with requests.
    expect(api.output()).toContain('"msg":"request"');
    expect(worker.output()).toContain('"msg":"worker started"');
    expect(answers.length).toBeGreaterThanOrEqual(8);
    const leaks: string[] = [];
    for (const [name, secret] of secrets) {
      for (const form of forms(secret)) {
        for (const [where, text] of sources) if (text.includes(form)) leaks.push(`${name} in ${where}`);
      }
    }
    expect([...new Set(leaks)]).toEqual([]);
  });
});
