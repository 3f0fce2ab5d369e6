import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/common/logger.js';
import { createHttpApp } from '../../src/http-app.js';
import { AUTH_CACHE_MS } from '../../src/tenants/auth.service.js';
import { waitFor } from '../support/processes.js';
import { Client, createTenant, startTestApp, type TestApp } from '../support/test-app.js';

describe('tenants, API keys and tenancy (real Postgres and Redis)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates a tenant whose key is shown once and works', async () => {
    const res = await t.admin.call('POST', '/v1/tenants', { name: 'alpha' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'alpha',
      apiKey: expect.stringMatching(/^kaas_/),
      apiKeyId: expect.any(String),
    });
    const pools = await t.admin.as(res.body.apiKey).call('GET', '/v1/storage-pools');
    expect(pools.status).toBe(200);
    expect(pools.body).toEqual({ items: [] });
    const shown = await t.admin.call('GET', `/v1/tenants/${res.body.id}`);
    expect(JSON.stringify(shown.body)).not.toContain(res.body.apiKey);
    expect(shown.body.quota).toEqual(expect.objectContaining({ maxClusters: expect.any(Number) }));
    expect(shown.body.usage).toEqual({ clusters: 0, nodes: 0, vcpus: 0, memoryMiB: 0, storageGiB: 0, floatingIps: 0 });
  });

  it('stores only a hash of each key', async () => {
    const tenant = await createTenant(t, 'hashed');
    const rows: { secret_hash: Buffer; prefix: string }[] = await t.app
      .get((await import('typeorm')).DataSource)
      .query(`SELECT secret_hash, prefix FROM api_keys WHERE tenant_id = $1`, [tenant.id]);
    expect(rows).toHaveLength(1);
    // kaas_<prefix>_<secret>; the secret itself may contain '_'
    const secret = tenant.apiKey.split('_').slice(2).join('_');
    expect(secret).toHaveLength(43);
    expect(rows[0].secret_hash.length).toBe(32);
    expect(rows[0].secret_hash.toString('hex')).not.toContain(Buffer.from(secret).toString('hex'));
  });

  it('answers 409 for a duplicate tenant name', async () => {
    await createTenant(t, 'dup');
    const res = await t.admin.call('POST', '/v1/tenants', { name: 'dup' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(
      expect.objectContaining({ statusCode: 409, error: 'Conflict', requestId: expect.any(String) }),
    );
  });

  it('answers 401 without a token, with a wrong token, and after a key is revoked', async () => {
    expect((await t.admin.as('').call('GET', '/v1/storage-pools')).status).toBe(401);
    expect((await t.admin.as('kaas_0000000000000000_' + 'a'.repeat(43)).call('GET', '/v1/storage-pools')).status).toBe(
      401,
    );
    const tenant = await createTenant(t, 'revoker');
    const extra = await t.admin.call('POST', `/v1/tenants/${tenant.id}/api-keys`, {});
    expect(extra.status).toBe(201);
    const second = t.admin.as(extra.body.apiKey);
    expect((await second.call('GET', '/v1/storage-pools')).status).toBe(200);
    const revoke = await t.admin.call('DELETE', `/v1/tenants/${tenant.id}/api-keys/${extra.body.id}`);
    expect(revoke.status).toBe(204);
    const after = await second.call('GET', '/v1/storage-pools');
    expect(after.status).toBe(401);
    expect(after.body.message).toMatch(/revoked/);
    expect((await tenant.client.call('GET', '/v1/storage-pools')).status).toBe(200);
  });

  it('refuses a revoked key at once in another API process that had it cached', async () => {
    // A second API process of the same platform: same database, same Redis prefix.
    const other = await createHttpApp(t.config, createLogger('silent', 'api'));
    await other.listen(0, '127.0.0.1');
    try {
      const otherUrl = `http://127.0.0.1:${(other.getHttpServer().address() as AddressInfo).port}`;
      const tenant = await createTenant(t, 'revoked-elsewhere');
      const extra = await t.admin.call('POST', `/v1/tenants/${tenant.id}/api-keys`, {});
      const elsewhere = new Client(otherUrl, extra.body.apiKey);
      // Verified (and remembered) by the other process, then revoked through this one.
      expect((await elsewhere.call('GET', '/v1/storage-pools')).status).toBe(200);
      expect((await elsewhere.call('GET', '/v1/storage-pools')).status).toBe(200);
      expect((await t.admin.call('DELETE', `/v1/tenants/${tenant.id}/api-keys/${extra.body.id}`)).status).toBe(204);
      const started = Date.now();
      await waitFor(
        'the other process to refuse the key',
        async () => (await elsewhere.call('GET', '/v1/storage-pools')).status === 401,
        3000,
        20,
      );
      // Told through Redis, well before its cache would have let the key go.
      expect(Date.now() - started).toBeLessThan(AUTH_CACHE_MS);
    } finally {
      await other.close();
    }
  });

  it('answers 403 when a tenant calls an operator route', async () => {
    const tenant = await createTenant(t, 'nosy');
    const res = await tenant.client.call('GET', '/v1/tenants');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('Forbidden');
  });

  it("keeps tenants apart: B can neither see nor touch A's resources", async () => {
    const a = await createTenant(t, 'tenant-a');
    const b = await createTenant(t, 'tenant-b');
    const pool = await a.client.call('POST', '/v1/storage-pools', { name: 'data', capacityGiB: 10 });
    expect(pool.status).toBe(201);
    expect((await b.client.call('GET', `/v1/storage-pools/${pool.body.id}`)).status).toBe(404);
    expect((await b.client.call('DELETE', `/v1/storage-pools/${pool.body.id}`)).status).toBe(404);
    expect((await b.client.call('GET', '/v1/storage-pools')).body).toEqual({ items: [] });
    // Same name in another tenant is fine.
    expect((await b.client.call('POST', '/v1/storage-pools', { name: 'data', capacityGiB: 10 })).status).toBe(201);
    expect((await a.client.call('GET', `/v1/storage-pools/${pool.body.id}`)).status).toBe(200);
    // The operator acts for a tenant only when it names it.
    expect((await t.admin.call('GET', '/v1/storage-pools')).status).toBe(400);
    const asA = await t.admin.as(t.config.adminToken!, { 'x-kaas-tenant': a.id }).call('GET', '/v1/storage-pools');
    expect(asA.body.items.map((p: { id: string }) => p.id)).toEqual([pool.body.id]);
  });

  it('sets quotas and reports usage', async () => {
    const tenant = await createTenant(t, 'quota-user');
    const quota = {
      maxClusters: 1,
      maxNodes: 2,
      maxVcpus: 4,
      maxMemoryMiB: 4096,
      maxStorageGiB: 30,
      maxFloatingIps: 1,
    };
    const set = await t.admin.call('PUT', `/v1/tenants/${tenant.id}/quota`, quota);
    expect(set.status).toBe(200);
    expect(set.body.quota).toEqual(quota);
    expect((await tenant.client.call('POST', '/v1/storage-pools', { name: 'p1', capacityGiB: 20 })).status).toBe(201);
    const over = await tenant.client.call('POST', '/v1/storage-pools', { name: 'p2', capacityGiB: 11 });
    expect(over.status).toBe(422);
    expect(over.body.message).toContain('maxStorageGiB');
    expect(over.body.details).toEqual({ quota: 'maxStorageGiB', limit: 30, used: 20, requested: 11 });
    expect((await t.admin.call('GET', `/v1/tenants/${tenant.id}`)).body.usage.storageGiB).toBe(20);
    expect((await t.admin.call('PUT', `/v1/tenants/${tenant.id}/quota`, { ...quota, maxNodes: -1 })).status).toBe(400);
  });

  it('lets exactly the allowed number of parallel requests through the last unit of quota', async () => {
    const tenant = await createTenant(t, 'racer');
    const quota = { maxClusters: 1, maxNodes: 1, maxVcpus: 1, maxMemoryMiB: 1, maxStorageGiB: 5, maxFloatingIps: 1 };
    await t.admin.call('PUT', `/v1/tenants/${tenant.id}/quota`, quota);
    const attempts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        tenant.client.call('POST', '/v1/storage-pools', { name: `race-${i}`, capacityGiB: 1 }),
      ),
    );
    const statuses = attempts.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 422)).toHaveLength(15);
    const list = await tenant.client.call('GET', '/v1/storage-pools');
    expect(list.body.items).toHaveLength(5);
  });

  it('pages through lists with a cursor', async () => {
    const tenant = await createTenant(t, 'pager');
    for (const name of ['a1', 'a2', 'a3', 'a4', 'a5']) {
      await tenant.client.call('POST', '/v1/storage-pools', { name, capacityGiB: 1 });
    }
    const first = await tenant.client.call('GET', '/v1/storage-pools?limit=2');
    expect(first.body.items.map((p: { name: string }) => p.name)).toEqual(['a1', 'a2']);
    const second = await tenant.client.call('GET', `/v1/storage-pools?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((p: { name: string }) => p.name)).toEqual(['a3', 'a4']);
    const third = await tenant.client.call('GET', `/v1/storage-pools?limit=2&cursor=${second.body.nextCursor}`);
    expect(third.body).toEqual({ items: [expect.objectContaining({ name: 'a5' })] });
    expect((await tenant.client.call('GET', '/v1/storage-pools?limit=5000')).status).toBe(400);
    expect((await tenant.client.call('GET', '/v1/storage-pools?cursor=bogus')).status).toBe(400);
  });

  it('replays a write with the same Idempotency-Key and refuses the key for another body', async () => {
    const tenant = await createTenant(t, 'idem');
    const headers = { 'idempotency-key': 'create-pool-1' };
    const first = await tenant.client.call('POST', '/v1/storage-pools', { name: 'once', capacityGiB: 2 }, headers);
    const again = await tenant.client.call('POST', '/v1/storage-pools', { name: 'once', capacityGiB: 2 }, headers);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await tenant.client.call('POST', '/v1/storage-pools', { name: 'twice', capacityGiB: 2 }, headers);
    expect(other.status).toBe(409);
    expect((await tenant.client.call('GET', '/v1/storage-pools')).body.items).toHaveLength(1);
  });

  it('lets a retry run a request whose first attempt died holding its Idempotency-Key', async () => {
    const tenant = await createTenant(t, 'idem-died');
    const { DataSource } = await import('typeorm');
    const { createHash } = await import('node:crypto');
    const ds = t.app.get(DataSource);
    await tenant.client.call(
      'POST',
      '/v1/storage-pools',
      { name: 'probe', capacityGiB: 1 },
      { 'idempotency-key': 'p' },
    );
    const [{ principal }] = await ds.query(`SELECT principal FROM idempotency_records WHERE idempotency_key = 'p'`);
    const body = { name: 'late', capacityGiB: 2 };
    const hash = createHash('sha256')
      .update(`POST /v1/storage-pools\n${JSON.stringify(body)}`)
      .digest('hex');
    // The first attempt took the key, then its process died before it answered or let go.
    await ds.query(`INSERT INTO idempotency_records (principal, idempotency_key, request_hash) VALUES ($1, 'd', $2)`, [
      principal,
      hash,
    ]);
    const headers = { 'idempotency-key': 'd' };
    const early = await tenant.client.call('POST', '/v1/storage-pools', body, headers);
    expect(early.status).toBe(409);
    expect(early.body.message).toMatch(/still in progress/);
    await ds.query(
      `UPDATE idempotency_records SET created_at = now() - interval '61 seconds' WHERE idempotency_key = 'd'`,
    );
    const retried = await tenant.client.call('POST', '/v1/storage-pools', body, headers);
    expect(retried.status).toBe(201);
    const again = await tenant.client.call('POST', '/v1/storage-pools', body, headers);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(retried.body);
  });

  it('keeps replayable answers encrypted: a new API key never rests in clear text', async () => {
    const first = await t.admin.call('POST', '/v1/tenants', { name: 'idem-secret' }, { 'idempotency-key': 'tenant-1' });
    const again = await t.admin.call('POST', '/v1/tenants', { name: 'idem-secret' }, { 'idempotency-key': 'tenant-1' });
    expect(again.body.apiKey).toBe(first.body.apiKey);
    const rows: { response_body: unknown }[] = await t.app
      .get((await import('typeorm')).DataSource)
      .query(`SELECT response_body FROM idempotency_records WHERE idempotency_key = 'tenant-1'`);
    expect(JSON.stringify(rows)).not.toContain(first.body.apiKey.split('_').slice(2).join('_'));
  });

  it('puts a request id on every response and in the log lines of that request', async () => {
    const res = await t.admin.call('GET', '/v1/tenants', undefined, { 'x-request-id': 'trace-me-123' });
    expect(res.headers.get('x-request-id')).toBe('trace-me-123');
    const generated = await t.admin.call('GET', '/v1/tenants');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    const line = t.logs.lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'trace-me-123');
    expect(line).toEqual(expect.objectContaining({ msg: 'request', status: 200, route: '/v1/tenants' }));
  });
});
