import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTenant, startTestApp, type Client, type TestApp } from '../support/test-app.js';

describe('bad input gets a clear 4xx and changes nothing', () => {
  let t: TestApp;
  let tenant: Client;

  beforeAll(async () => {
    t = await startTestApp();
    tenant = (await createTenant(t, 'input-tester')).client;
  });
  afterAll(async () => {
    await t.close();
  });

  async function state(): Promise<string> {
    const tenants = await t.admin.call('GET', '/v1/tenants');
    const pools = await tenant.call('GET', '/v1/storage-pools');
    return JSON.stringify([tenants.body, pools.body]);
  }

  const cases: [string, string, string, unknown, number, RegExp][] = [
    ['malformed JSON', 'POST', '/v1/storage-pools', '{"name": "x", ', 400, /not valid JSON/],
    ['a JSON array', 'POST', '/v1/storage-pools', '[1,2]', 400, /name/],
    ['a bare string', 'POST', '/v1/storage-pools', '"pool"', 400, /JSON/],
    ['wrong type for capacityGiB', 'POST', '/v1/storage-pools', { name: 'p', capacityGiB: '10' }, 400, /capacityGiB/],
    ['fractional capacityGiB', 'POST', '/v1/storage-pools', { name: 'p', capacityGiB: 1.5 }, 400, /capacityGiB/],
    ['zero capacityGiB', 'POST', '/v1/storage-pools', { name: 'p', capacityGiB: 0 }, 400, /capacityGiB/],
    ['absurd capacityGiB', 'POST', '/v1/storage-pools', { name: 'p', capacityGiB: 1e12 }, 400, /capacityGiB/],
    ['missing name', 'POST', '/v1/storage-pools', { capacityGiB: 1 }, 400, /name/],
    ['unknown field', 'POST', '/v1/storage-pools', { name: 'p', capacityGiB: 1, colour: 'red' }, 400, /colour/],
    ['name not a DNS label', 'POST', '/v1/storage-pools', { name: 'Bad_Name', capacityGiB: 1 }, 400, /DNS label/],
    ['name too long', 'POST', '/v1/storage-pools', { name: 'a'.repeat(64), capacityGiB: 1 }, 400, /63/],
    ['empty name', 'POST', '/v1/storage-pools', { name: '', capacityGiB: 1 }, 400, /empty/],
    [
      'name with shell metacharacters',
      'POST',
      '/v1/storage-pools',
      { name: 'a;rm -rf /', capacityGiB: 1 },
      400,
      /name/,
    ],
    ['name with XML', 'POST', '/v1/storage-pools', { name: '<x/>', capacityGiB: 1 }, 400, /name/],
    [
      'oversized body',
      'POST',
      '/v1/storage-pools',
      { name: 'p', capacityGiB: 1, pad: 'x'.repeat(200_000) },
      413,
      /larger than/,
    ],
    ['non-uuid id', 'GET', '/v1/storage-pools/..%2F..%2Fetc', undefined, 404, /not found/],
    ['unknown route', 'GET', '/v1/nothing-here', undefined, 404, /no route/],
  ];

  it.each(cases)('%s', async (_label, method, path, body, status, message) => {
    const before = await state();
    const res = await tenant.call(method, path, body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(
      expect.objectContaining({
        statusCode: status,
        error: expect.any(String),
        message: expect.stringMatching(message),
        requestId: expect.any(String),
      }),
    );
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(await state()).toBe(before);
  });

  it('names every offending field in details', async () => {
    const res = await tenant.call('POST', '/v1/storage-pools', { name: 7, capacityGiB: 'lots', extra: true });
    expect(res.status).toBe(400);
    const fields = (res.body.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['capacityGiB', 'extra', 'name']);
  });
});
