import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, createTenant, startTestApp, type TestApp } from '../support/test-app.js';

describe('platform endpoints', () => {
  let t: TestApp;
  let anon: Client;

  beforeAll(async () => {
    t = await startTestApp();
    anon = new Client(t.baseUrl);
  });
  afterAll(async () => {
    await t.close();
  });

  it('/healthz answers without credentials', async () => {
    const res = await anon.call('GET', '/healthz');
    expect(res).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok' } }));
  });

  it('/readyz checks the database, Redis and hosts, and names nothing', async () => {
    const res = await anon.call('GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({
      database: { ok: true },
      redis: { ok: true },
      hosts: { ok: true, total: 0, connected: 0 },
    });
  });

  it("/metrics is the operator's: without the admin token it is 401, with a tenant key 403", async () => {
    expect((await anon.call('GET', '/metrics')).status).toBe(401);
    const { client } = await createTenant(t, 'metrics-nosy');
    expect((await client.call('GET', '/metrics')).status).toBe(403);
  });

  it('/metrics speaks Prometheus text with HTTP and queue figures', async () => {
    await t.admin.call('GET', '/v1/tenants');
    const res = await t.admin.call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = res.body as unknown as string;
    expect(text).toMatch(/kaas_http_requests_total\{method="GET",route="\/v1\/tenants",status="200"\} \d+/);
    expect(text).toMatch(/kaas_http_request_duration_seconds_bucket/);
    expect(text).toMatch(/kaas_queue_jobs\{queue="reconcile",state="waiting"\} \d+/);
  });

  it('serves the OpenAPI document and its UI', async () => {
    const doc = await anon.call('GET', '/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/tenants', '/v1/storage-pools', '/v1/tenants/{id}/quota']),
    );
    expect(doc.body.components.schemas.CreateStoragePoolRequest.required).toEqual(['name', 'capacityGiB']);
    const ui = await anon.call('GET', '/docs');
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger');
  });
});
