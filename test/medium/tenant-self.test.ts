import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTenant, startTestApp, type TestApp } from '../support/test-app.js';

describe('GET /v1/tenant: a tenant reads its own quota and usage', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers the caller’s tenant with quota and current usage', async () => {
    const tenant = await createTenant(t, 'self-reader');
    await createTenant(t, 'someone-else');
    expect((await tenant.client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 300 })).status).toBe(
      201,
    );
    await t.admin.call('PUT', `/v1/tenants/${tenant.id}/quota`, {
      maxClusters: 3,
      maxNodes: 9,
      maxVcpus: 30,
      maxMemoryMiB: 40960,
      maxStorageGiB: 500,
      maxFloatingIps: 2,
    });
    const res = await tenant.client.call('GET', '/v1/tenant');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: tenant.id,
      name: 'self-reader',
      quota: {
        maxClusters: 3,
        maxNodes: 9,
        maxVcpus: 30,
        maxMemoryMiB: 40960,
        maxStorageGiB: 500,
        maxFloatingIps: 2,
      },
      usage: { clusters: 0, nodes: 0, vcpus: 0, memoryMiB: 0, storageGiB: 300, floatingIps: 0 },
      createdAt: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toContain(tenant.apiKey);
  });

  it('lets the operator read it for the tenant named in X-Kaas-Tenant, and only then', async () => {
    const tenant = await createTenant(t, 'acted-on');
    const acting = await t.admin.call('GET', '/v1/tenant', undefined, { 'X-Kaas-Tenant': tenant.id });
    expect(acting.status).toBe(200);
    expect(acting.body).toEqual(expect.objectContaining({ id: tenant.id, name: 'acted-on' }));
    const unnamed = await t.admin.call('GET', '/v1/tenant');
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.message).toContain('X-Kaas-Tenant');
    const unknown = await t.admin.call('GET', '/v1/tenant', undefined, {
      'X-Kaas-Tenant': '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.status).toBe(404);
  });

  it('refuses a missing or wrong key with 401', async () => {
    expect((await t.admin.as('').call('GET', '/v1/tenant')).status).toBe(401);
    expect((await t.admin.as('kaas_0000000000000000_' + 'a'.repeat(43)).call('GET', '/v1/tenant')).status).toBe(401);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = await t.admin.call('GET', '/docs-json');
    expect(doc.body.paths['/v1/tenant'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/TenantResponse',
    });
    expect(doc.body.paths['/v1/control-planes'].get).toBeDefined();
  });
});
