import { describe, expect, it } from '@jest/globals';
import type { Logger } from 'pino';
import { loadConfig } from '../config/config.js';
import { ErrorCode } from '../common/domain-error.js';
import { MetricsService } from './metrics.service.js';
import { addressKey, RateLimitService } from './rate-limit.service.js';
import type { BucketAnswer, BucketCall, TokenBuckets } from './token-buckets.js';
import type { JobQueue } from '../jobs/job-types.js';

function setup(answer: (calls: BucketCall[]) => Promise<BucketAnswer>, ready = true, env: Record<string, string> = {}) {
  const config = loadConfig({ KAAS_SECRET_KEY: 'a'.repeat(64), KAAS_QUEUE_PREFIX: 'q', ...env });
  const warnings: unknown[] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
  const calls: BucketCall[][] = [];
  const buckets = {
    ready,
    take: (c: BucketCall[]) => {
      calls.push(c);
      return answer(c);
    },
  } as unknown as TokenBuckets;
  const metrics = new MetricsService({ counts: async () => ({}) } as unknown as JobQueue);
  return { service: new RateLimitService(config, logger, buckets, metrics), warnings, calls };
}

const allowAll = async (c: BucketCall[]) => ({ allowed: true, retryAfterMs: 0, remaining: c.map((b) => b.burst - 1) });

describe('RateLimitService', () => {
  it('takes from the address and the token, and leaves the failed-authentication budget alone', async () => {
    const { service, calls } = setup(allowAll);
    const res = await service.admit('10.0.0.1', 'kaas_secret');
    expect(res.refusal).toBeUndefined();
    expect(calls[0].map((c) => [c.key.replace(/[0-9a-f]{32}$/, 'HASH'), c.need, c.cost])).toEqual([
      ['q:rate:address:10.0.0.1', 1, 1],
      ['q:rate:key:HASH', 1, 1],
    ]);
    expect(JSON.stringify(calls)).not.toContain('kaas_secret');
    expect(res.headers).toEqual({ 'RateLimit-Limit': '200', 'RateLimit-Remaining': '199', 'RateLimit-Reset': '1' });
  });

  it('without a token only the address counts', async () => {
    const { service, calls } = setup(allowAll);
    await service.admit('10.0.0.1', undefined);
    expect(calls[0].map((c) => c.key)).toEqual(['q:rate:address:10.0.0.1']);
  });

  it('names the exhausted key or address limit in a 429 with Retry-After', async () => {
    const { service } = setup(async (c) => ({
      allowed: false,
      retryAfterMs: 1500,
      remaining: c.map((b) => (b.key.includes(':key:') ? 0.2 : 10)),
    }));
    const res = await service.admit('10.0.0.1', 'k');
    expect(res.refusal?.code).toBe(ErrorCode.RateLimited);
    expect(res.refusal?.message).toMatch(/with this key/);
    expect(res.refusal?.details).toEqual({ limit: 'key', retryAfterSeconds: 2 });
    expect(res.headers['Retry-After']).toBe('2');
    expect(res.headers['RateLimit-Remaining']).toBe('0');
  });

  it('counts a token that did not verify, and refuses once the address has used up its failures', async () => {
    let level = 2;
    const { service, calls } = setup(async ([c]) => {
      const allowed = level >= c.need;
      if (allowed) level -= c.cost;
      return { allowed, retryAfterMs: allowed ? 0 : 6000, remaining: [level] };
    });
    expect(await service.authenticationFailed('10.0.0.1')).toEqual({ headers: {} });
    expect(await service.authenticationFailed('10.0.0.1')).toEqual({ headers: {} });
    const refused = await service.authenticationFailed('10.0.0.1');
    expect(refused.refusal?.code).toBe(ErrorCode.RateLimited);
    expect(refused.refusal?.message).toMatch(/failed authentications/);
    expect(refused.refusal?.details).toEqual({ limit: 'authFailures', retryAfterSeconds: 6 });
    expect(refused.headers).toEqual({
      'RateLimit-Limit': '600',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '60',
      'Retry-After': '6',
    });
    expect(calls.map(([c]) => [c.key, c.need, c.cost])).toEqual(Array(3).fill(['q:rate:authFailures:10.0.0.1', 1, 1]));
  });

  it('lets requests through with one warning when Redis is down or slow', async () => {
    const down = setup(allowAll, false);
    expect(await down.service.admit('10.0.0.1', 'k')).toEqual({ headers: {} });
    expect(await down.service.admit('10.0.0.1', 'k')).toEqual({ headers: {} });
    expect(down.warnings).toHaveLength(1);
    const failing = setup(async () => {
      throw new Error('READONLY');
    });
    expect(await failing.service.admit('10.0.0.1', 'k')).toEqual({ headers: {} });
    await failing.service.authenticationFailed('10.0.0.1');
    expect(failing.warnings).toHaveLength(1);
    const slow = setup(() => new Promise<BucketAnswer>(() => undefined));
    expect(await slow.service.admit('10.0.0.1', 'k')).toEqual({ headers: {} });
  });

  it('a limit of 0 is no limit', async () => {
    const { service, calls } = setup(allowAll, true, {
      KAAS_RATE_LIMIT_PER_KEY: '0',
      KAAS_RATE_LIMIT_PER_ADDRESS: '0',
      KAAS_RATE_LIMIT_AUTH_FAILURES: '0',
    });
    expect(await service.admit('10.0.0.1', 'k')).toEqual({ headers: {} });
    await service.authenticationFailed('10.0.0.1');
    expect(calls).toEqual([]);
  });

  it('counts IPv6 addresses per /64', () => {
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:0db8:0001:0002::')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey(undefined)).toBe('unknown');
  });
});
