import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { type Client, startTestApp, type TestApp } from '../support/test-app.js';

interface AuditItem {
  id: string;
  at: string;
  actor: { kind: string; tenantId?: string; apiKeyId?: string };
  tenantId?: string;
  sourceIp: string;
  method: string;
  path: string;
  resourceKind?: string;
  resourceId?: string;
  statusCode: number;
  outcome: string;
  requestId: string;
}

describe('the audit log of writes', () => {
  let t: TestApp;
  let ds: DataSource;
  let tenant: { id: string; apiKey: string; apiKeyId: string; client: Client };

  const newest = async (query = ''): Promise<AuditItem> => {
    const res = await t.admin.call('GET', `/v1/audit?limit=1${query}`);
    expect(res.status).toBe(200);
    return res.body.items[0] as AuditItem;
  };

  beforeAll(async () => {
    t = await startTestApp();
    ds = t.app.get(DataSource);
    const res = await t.admin.call('POST', '/v1/tenants', { name: 'audited' });
    tenant = {
      id: res.body.id,
      apiKey: res.body.apiKey,
      apiKeyId: res.body.apiKeyId,
      client: t.admin.as(res.body.apiKey),
    };
  });
  afterAll(async () => {
    await t.close();
  });

  it('records an operator write with the tenant it created, before the answer arrives', async () => {
    const res = await t.admin.call('POST', '/v1/tenants', { name: 'second' }, { 'x-request-id': 'audit-req-1' });
    expect(res.status).toBe(201);
    // No waiting: the record is stored before the answer leaves.
    expect(await newest()).toEqual({
      id: expect.stringMatching(/^\d+$/),
      at: expect.any(String),
      actor: { kind: 'admin' },
      tenantId: res.body.id,
      sourceIp: expect.stringMatching(/127\.0\.0\.1$/),
      method: 'POST',
      path: '/v1/tenants',
      resourceKind: 'tenant',
      resourceId: res.body.id,
      statusCode: 201,
      outcome: 'success',
      requestId: 'audit-req-1',
    });
    expect(Date.now() - Date.parse((await newest()).at)).toBeLessThan(60_000);
  });

  it("records a tenant's write with its key, and the operator acting for a tenant", async () => {
    const pool = await tenant.client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 10 });
    expect(pool.status).toBe(201);
    expect(await newest()).toEqual(
      expect.objectContaining({
        actor: { kind: 'tenant', tenantId: tenant.id, apiKeyId: tenant.apiKeyId },
        tenantId: tenant.id,
        resourceKind: 'storage-pool',
        resourceId: pool.body.id,
        statusCode: 201,
      }),
    );
    const forTenant = t.admin.as(t.config.adminToken!, { 'x-kaas-tenant': tenant.id });
    const vpc = await forTenant.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.1.0.0/24' });
    expect(vpc.status).toBe(201);
    expect(await newest()).toEqual(
      expect.objectContaining({
        actor: { kind: 'admin' },
        tenantId: tenant.id,
        resourceKind: 'vpc',
        resourceId: vpc.body.id,
      }),
    );
    const removed = await forTenant.call('DELETE', `/v1/vpcs/${vpc.body.id}`);
    expect(removed.status).toBe(204);
    expect(await newest()).toEqual(
      expect.objectContaining({
        method: 'DELETE',
        path: `/v1/vpcs/${vpc.body.id}`,
        resourceId: vpc.body.id,
        statusCode: 204,
      }),
    );
  });

  it('records an admin key by its id, and actions on nested resources', async () => {
    const token = await t.admin.call('POST', '/v1/admin-tokens', { description: 'ops' });
    expect(token.status).toBe(201);
    const key = await t.admin.as(token.body.apiKey).call('POST', `/v1/tenants/${tenant.id}/api-keys`, {});
    expect(key.status).toBe(201);
    expect(await newest()).toEqual(
      expect.objectContaining({
        actor: { kind: 'admin', apiKeyId: token.body.id },
        tenantId: tenant.id,
        resourceKind: 'api-key',
        resourceId: key.body.id,
      }),
    );
    const quota = await t.admin.call('PUT', `/v1/tenants/${tenant.id}/quota`, {
      maxClusters: 1,
      maxNodes: 1,
      maxVcpus: 1,
      maxMemoryMiB: 1,
      maxStorageGiB: 100,
      maxFloatingIps: 1,
    });
    expect(quota.status).toBe(200);
    expect(await newest()).toEqual(
      expect.objectContaining({ method: 'PUT', resourceKind: 'tenant', resourceId: tenant.id, tenantId: tenant.id }),
    );
  });

  it('records failures: refused input, a tenant on an operator route, an unknown id', async () => {
    const bad = await tenant.client.call('POST', '/v1/storage-pools', { name: 'x', capacityGiB: 'lots' });
    expect(bad.status).toBe(400);
    expect(await newest()).toEqual(
      expect.objectContaining({ statusCode: 400, outcome: 'failure', requestId: bad.body.requestId }),
    );
    const forbidden = await tenant.client.call('POST', '/v1/tenants', { name: 'sneaky' });
    expect(forbidden.status).toBe(403);
    expect(await newest()).toEqual(
      expect.objectContaining({
        actor: { kind: 'tenant', tenantId: tenant.id, apiKeyId: tenant.apiKeyId },
        tenantId: tenant.id,
        path: '/v1/tenants',
        statusCode: 403,
        outcome: 'failure',
      }),
    );
    const missing = await tenant.client.call('DELETE', '/v1/storage-pools/..%2F..%2Fetc%2Fpasswd');
    expect(missing.status).toBe(404);
    const item = await newest();
    expect(item).toEqual(expect.objectContaining({ statusCode: 404, resourceKind: 'storage-pool' }));
    expect(item.resourceId).toBeUndefined();
  });

  it('does not record reads, nor writes whose token was refused', async () => {
    const before = await newest();
    await tenant.client.call('GET', '/v1/storage-pools');
    await t.admin.as('not-a-token-at-all').call('POST', '/v1/tenants', { name: 'nobody' });
    await t.admin.as('').call('DELETE', `/v1/tenants/${tenant.id}/api-keys/${tenant.apiKeyId}`);
    expect((await newest()).id).toBe(before.id);
  });

  it('never stores bodies or secrets', async () => {
    const created = await t.admin.call('POST', '/v1/tenants', { name: 'secretive' });
    const rows: unknown[] = await ds.query(`SELECT row_to_json(a) AS r FROM audit_log a`);
    const all = JSON.stringify(rows);
    for (const secret of [created.body.apiKey, tenant.apiKey, t.config.adminToken!]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toContain('secretive');
    expect(all).not.toContain('capacityGiB');
  });

  it('filters by tenant, outcome and time, and pages newest first', async () => {
    const mine = await t.admin.call('GET', `/v1/audit?tenantId=${tenant.id}`);
    expect(mine.body.items.length).toBeGreaterThanOrEqual(5);
    expect(mine.body.items.every((i: AuditItem) => i.tenantId === tenant.id)).toBe(true);
    const failures = await t.admin.call('GET', '/v1/audit?outcome=failure');
    expect(failures.body.items.length).toBeGreaterThanOrEqual(3);
    expect(failures.body.items.every((i: AuditItem) => i.outcome === 'failure' && i.statusCode >= 400)).toBe(true);
    const future = await t.admin.call('GET', `/v1/audit?since=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.body).toEqual({ items: [] });

    const all = (await t.admin.call('GET', '/v1/audit?limit=1000')).body.items as AuditItem[];
    const ids = all.map((i) => Number(i.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const paged: AuditItem[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.admin.call('GET', `/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      paged.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged.map((i) => i.id)).toEqual(all.map((i) => i.id));
  });

  it('is for the operator only, with strict query parameters', async () => {
    expect((await tenant.client.call('GET', '/v1/audit')).status).toBe(403);
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=abc',
      'outcome=maybe',
      'since=yesterday',
      'tenantId=../../etc',
      'cursor=not-a-cursor',
      `cursor=${Buffer.from(JSON.stringify({ id: 'x; DROP TABLE audit_log' })).toString('base64url')}`,
      'colour=red',
    ]) {
      const res = await t.admin.call('GET', `/v1/audit?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.body).toEqual(expect.objectContaining({ statusCode: 400, requestId: expect.any(String) }));
    }
  });

  it('is append-only: updates, deletes and truncation are refused by the database', async () => {
    await expect(ds.query(`UPDATE audit_log SET status_code = 200`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`TRUNCATE audit_log`)).rejects.toThrow(/append-only/);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM audit_log`);
    expect(n).toBeGreaterThan(0);
    // The operator's explicit retention step.
    const deleted = await ds.transaction(async (tx) => {
      await tx.query(`SET LOCAL kaas.audit_retention = 'on'`);
      return tx.query(`DELETE FROM audit_log WHERE at < now() + interval '1 day'`);
    });
    expect(deleted[1]).toBe(n);
  });

  it('answers a write even when its record cannot be stored, and logs the record instead', async () => {
    await ds.query(`ALTER TABLE audit_log RENAME TO audit_log_away`);
    try {
      const res = await tenant.client.call('POST', '/v1/floating-ips', {}, { 'x-request-id': 'audit-down-1' });
      expect(res.status).toBe(422); // no range yet: the write itself fails, and is answered
      const line = t.logs.lines.find((l) => l.includes('audit record not stored') && l.includes('audit-down-1'));
      expect(line).toBeDefined();
      expect(JSON.parse(line!).audit).toEqual(expect.objectContaining({ path: '/v1/floating-ips', statusCode: 422 }));
      expect(line).not.toContain(tenant.apiKey);
    } finally {
      await ds.query(`ALTER TABLE audit_log_away RENAME TO audit_log`);
    }
  });
});
