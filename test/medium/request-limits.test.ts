import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/common/logger.js';
import { createHttpApp } from '../../src/http-app.js';
import { type Answer, Client, LogSink, startTestApp, type TestApp } from '../support/test-app.js';

/** Low limits so that each one can be reached in a few requests; each test uses its own address. */
const LIMITS = {
  KAAS_RATE_LIMIT_PER_KEY: '1',
  KAAS_RATE_LIMIT_PER_KEY_BURST: '10',
  KAAS_RATE_LIMIT_PER_ADDRESS: '1',
  KAAS_RATE_LIMIT_PER_ADDRESS_BURST: '15',
  KAAS_RATE_LIMIT_AUTH_FAILURES: '1',
  KAAS_RATE_LIMIT_AUTH_FAILURES_BURST: '3',
};

function expectRateLimited(res: Answer, limit: string) {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({
    statusCode: 429,
    error: 'Too Many Requests',
    code: 'RATE_LIMITED',
    message: expect.stringMatching(/^too many .*; retry in \d+ s$/),
    details: { limit, retryAfterSeconds: expect.any(Number) },
    requestId: expect.any(String),
  });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

/** The first refusal within a few more requests (a slow machine earns a token back now and then). */
async function firstRefusal(client: Client, path: string, tries = 3) {
  for (let i = 0; i < tries; i++) {
    const res = await client.call('GET', path);
    if (res.status === 429) return res;
  }
  throw new Error(`no 429 within ${tries} requests`);
}

describe('request limits', () => {
  let t: TestApp;
  let address = 0;
  /** A client whose requests come from an address of its own (the API trusts X-Forwarded-For from loopback). */
  const from = (token: string | undefined, ip = `198.51.100.${++address}`) =>
    new Client(t.baseUrl, token, { 'x-forwarded-for': ip });

  /**
   * The operator's calls come from addresses of their own too, so they spend no test's budget,
   * and with an admin key of their own, so the tests that use KAAS_ADMIN_TOKEN have its whole burst.
   */
  let setupToken: string;
  const tenantFor = async (name: string) => {
    const res = await from(setupToken).call('POST', '/v1/tenants', { name });
    expect(res.status).toBe(201);
    return res.body as { id: string; apiKey: string };
  };

  beforeAll(async () => {
    t = await startTestApp(LIMITS);
    const token = await from(t.config.adminToken).call('POST', '/v1/admin-tokens', { description: 'setup' });
    expect(token.status).toBe(201);
    setupToken = token.body.apiKey as string;
  });
  afterAll(async () => {
    await t.close();
  });

  it('limits each key, with RateLimit headers on every answer', async () => {
    const tenant = await tenantFor('busy');
    const ip = '198.51.100.200';
    const remaining: number[] = [];
    let refused: Answer | undefined;
    // Ten in the burst; a slow machine may earn one or two more back while they run.
    for (let i = 0; i < 13 && !refused; i++) {
      const res = await from(tenant.apiKey, ip).call('GET', '/v1/storage-pools');
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-limit')).toBe('10');
        remaining.push(Number(res.headers.get('ratelimit-remaining')));
      }
    }
    expect(remaining[0]).toBe(9);
    expect(remaining.length).toBeGreaterThanOrEqual(10);
    expect(remaining.length).toBeLessThanOrEqual(12);
    expectRateLimited(refused!, 'key');
    // Another key from the same address is not held back by this one.
    const other = await tenantFor('calm');
    expect((await from(other.apiKey, ip).call('GET', '/v1/storage-pools')).status).toBe(200);
    // The bucket refills at the configured rate.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await from(tenant.apiKey, ip).call('GET', '/v1/storage-pools')).status).toBe(200);
  });

  it('limits each source address across keys', async () => {
    const ip = '198.51.100.201';
    const keys = [await tenantFor('a1'), await tenantFor('a2'), await tenantFor('a3')];
    for (const [key, n] of [
      [keys[0], 8],
      [keys[1], 7],
    ] as const) {
      for (let i = 0; i < n; i++) expect((await from(key.apiKey, ip).call('GET', '/v1/vpcs')).status).toBe(200);
    }
    expectRateLimited(await firstRefusal(from(keys[2].apiKey, ip), '/v1/vpcs'), 'address');
    expectRateLimited(await from(undefined, ip).call('GET', '/v1/vpcs'), 'address');
    expect((await from(keys[2].apiKey).call('GET', '/v1/vpcs')).status).toBe(200);
  });

  it('stops key guessing: after a few failed tokens the address gets 429 for every token that does not verify', async () => {
    const tenant = await tenantFor('target');
    const ip = '198.51.100.202';
    // Shaped like real keys, so that each one is looked up (and not refused by its form alone).
    const guess = (i: number) => `kaas_${'0'.repeat(16)}_${String(i % 10).repeat(43)}`;
    for (let i = 0; i < 3; i++) expect((await from(guess(i), ip).call('GET', '/v1/vpcs')).status).toBe(401);
    const refusedGuess = await from(guess(3), ip).call('GET', '/v1/vpcs');
    expectRateLimited(refusedGuess, 'authFailures');
    // A malformed token, a real key's prefix with a wrong secret and an unknown key all get the
    // same answer, so none of them says which part was wrong.
    const realPrefix = tenant.apiKey.slice(0, 'kaas_'.length + 16);
    for (const token of ['another-guess-000000', `${realPrefix}_${'x'.repeat(43)}`, guess(4)]) {
      const res = await from(token, ip).call('GET', '/v1/vpcs');
      expectRateLimited(res, 'authFailures');
      expect(res.body.message).toBe(refusedGuess.body.message);
      expect(res.headers.get('ratelimit-limit')).toBe('3');
    }
    expect(t.logs.lines.join('\n')).not.toContain(tenant.apiKey);
  });

  it('never refuses a valid key or the operator from an address that used up its failed authentications', async () => {
    const tenant = await tenantFor('behind-proxy');
    const ip = '198.51.100.205';
    for (let i = 0; i < 3; i++) expect((await from(`wrong-token-${i}`, ip).call('GET', '/v1/vpcs')).status).toBe(401);
    expectRateLimited(await from('wrong-token-3', ip).call('GET', '/v1/vpcs'), 'authFailures');
    // The attacker keeps guessing in between: the valid callers behind the same address go on.
    for (let i = 0; i < 2; i++) {
      const key = await from(tenant.apiKey, ip).call('GET', '/v1/vpcs');
      expect(key.status).toBe(200);
      expect(key.body).toEqual({ items: [] });
      expect(key.headers.get('ratelimit-limit')).toBe('10');
      expect((await from(t.config.adminToken, ip).call('GET', '/v1/tenants')).status).toBe(200);
      expectRateLimited(await from(`wrong-token-${4 + i}`, ip).call('GET', '/v1/vpcs'), 'authFailures');
    }
    const write = await from(tenant.apiKey, ip).call('POST', '/v1/storage-pools', { name: 'p', capacityGiB: 1 });
    expect(write.status).toBe(201);
    // Without any token, the address still counts, and still answers 401.
    expect((await from(undefined, ip).call('GET', '/v1/vpcs')).status).toBe(401);
  });

  it('never limits /healthz and /readyz', async () => {
    const ip = '198.51.100.203';
    for (let i = 0; i < 15; i++) await from(undefined, ip).call('GET', '/v1/vpcs');
    expectRateLimited(await firstRefusal(from(undefined, ip), '/v1/vpcs'), 'address');
    for (let i = 0; i < 12; i++) {
      for (const path of ['/healthz', '/readyz']) {
        expect((await from(undefined, ip).call('GET', path)).status).toBe(200);
      }
    }
    // /metrics is the operator's, authenticated (and so limited) like any other route.
    const metrics = await t.admin.call('GET', '/metrics');
    expect(String(metrics.body)).toMatch(/kaas_rate_limited_requests_total\{limit="address"\} [1-9]/);
  });

  it('shares the limits between API processes through Redis', async () => {
    const logger = createLogger('silent', 'api', new LogSink());
    const second: INestApplication = await createHttpApp(t.config, logger);
    try {
      await second.listen(0, '127.0.0.1');
      const secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as AddressInfo).port}`;
      const tenant = await tenantFor('shared');
      const ip = '198.51.100.204';
      for (let i = 0; i < 10; i++) {
        const url = i % 2 ? secondUrl : t.baseUrl;
        expect((await new Client(url, tenant.apiKey, { 'x-forwarded-for': ip }).call('GET', '/v1/vpcs')).status).toBe(
          200,
        );
      }
      const refused = await firstRefusal(new Client(secondUrl, tenant.apiKey, { 'x-forwarded-for': ip }), '/v1/vpcs');
      expectRateLimited(refused, 'key');
    } finally {
      await second.close();
    }
  });

  it('refuses a body over the size limit with 413 and the error body', async () => {
    const tenant = await tenantFor('bulky');
    const res = await from(tenant.apiKey).call('POST', '/v1/storage-pools', {
      name: 'big',
      capacityGiB: 1,
      pad: 'x'.repeat(100_000),
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringMatching(/larger than the limit of 65536 bytes/),
      requestId: expect.any(String),
    });
    expect((await from(tenant.apiKey).call('GET', '/v1/storage-pools')).body).toEqual({ items: [] });
  });

  it('takes writes without a body, and refuses a body that is not JSON with 415', async () => {
    const tenant = await tenantFor('bodiless');
    // fetch sends Content-Length: 0 and no Content-Type for a POST without a body.
    const key = await fetch(`${t.baseUrl}/v1/tenants/${tenant.id}/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.config.adminToken}`, 'x-forwarded-for': '198.51.100.250' },
    });
    expect(key.status).toBe(201);
    const xml = await fetch(`${t.baseUrl}/v1/storage-pools`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.apiKey}`,
        'content-type': 'application/xml',
        'x-forwarded-for': '198.51.100.251',
      },
      body: '<pool><name>x</name></pool>',
    });
    expect(xml.status).toBe(415);
    expect(await xml.json()).toEqual(
      expect.objectContaining({ statusCode: 415, message: expect.stringMatching(/must be JSON/) }),
    );
  });
});

describe('request limits by default', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('holds one key to 100 requests a second with a burst of 200, and leaves other keys alone', async () => {
    const busy = t.admin.as((await t.admin.call('POST', '/v1/tenants', { name: 'flood' })).body.apiKey as string);
    const calm = t.admin.as((await t.admin.call('POST', '/v1/tenants', { name: 'calm' })).body.apiKey as string);
    const first = await busy.call('GET', '/v1/vpcs');
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('200');
    expect(first.headers.get('ratelimit-remaining')).toBe('199');
    // Letting all of these through would take at least 4 s of refills; they arrive far faster.
    const answers = await Promise.all(Array.from({ length: 600 }, () => busy.call('GET', '/v1/vpcs')));
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(199);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length + answers.filter((a) => a.status === 200).length).toBe(600);
    expect(refused[0].body.details).toEqual({ limit: 'key', retryAfterSeconds: 1 });
    expect((await calm.call('GET', '/v1/vpcs')).status).toBe(200);
  });
});
