import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Logger } from 'pino';
import { loadConfig } from '../config/config.js';
import { ErrorCode } from '../common/domain-error.js';
import { MetricsService } from './metrics.service.js';
import { addressKey, batchSize, RateLimitService } from './rate-limit.service.js';
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

const allowAll = async (c: BucketCall[]) => ({
  allowed: true,
  retryAfterMs: 0,
  remaining: c.map((b) => b.burst - b.cost),
  granted: c.map((b) => b.cost),
});

/** Redis's buckets as the Lua script keeps them, on the (fake) clock. */
function redisBuckets() {
  const saved = new Map<string, { tokens: number; at: number }>();
  const take = async (calls: BucketCall[]): Promise<BucketAnswer> => {
    const now = Date.now();
    const levels = calls.map((c) => {
      const s = saved.get(c.key);
      return s ? Math.min(c.burst, s.tokens + ((now - s.at) * c.ratePerSecond) / 1000) : c.burst;
    });
    const wait = Math.max(
      0,
      ...calls.map((c, i) => (levels[i] < c.need ? Math.ceil(((c.need - levels[i]) * 1000) / c.ratePerSecond) : 0)),
    );
    const granted = calls.map((c, i) =>
      wait === 0 && c.cost ? Math.max(c.need, Math.min(c.cost, Math.floor(levels[i]))) : 0,
    );
    calls.forEach((c, i) => {
      if (granted[i]) saved.set(c.key, { tokens: levels[i] - granted[i], at: now });
    });
    return { allowed: wait === 0, retryAfterMs: wait, remaining: levels.map((l, i) => l - granted[i]), granted };
  };
  return { take, level: (key: string) => saved.get(key)?.tokens };
}

const stripHash = (c: BucketCall) => c.key.replace(/[0-9a-f]{32}$/, 'HASH');

describe('RateLimitService', () => {
  it('takes a batch from the token and the address, and leaves the failed-authentication budget alone', async () => {
    const { service, calls } = setup(allowAll);
    const res = await service.admit('10.0.0.1', 'kaas_secret');
    expect(res.refusal).toBeUndefined();
    // A batch of each: a tenth of a second's worth (100/s per key, 2000/s per address by default).
    expect(calls[0].map((c) => [stripHash(c), c.need, c.cost])).toEqual([
      ['q:rate:key:HASH', 1, 10],
      ['q:rate:address:10.0.0.1', 1, 200],
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
      granted: c.map(() => 0),
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
      return { allowed, retryAfterMs: allowed ? 0 : 6000, remaining: [level], granted: [allowed ? c.cost : 0] };
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
    // Refused until a token comes back: the next ones are refused without asking Redis.
    expect((await service.authenticationFailed('10.0.0.1')).refusal?.code).toBe(ErrorCode.RateLimited);
    expect(calls).toHaveLength(3);
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

  describe('batches', () => {
    afterEach(() => {
      jest.useRealTimers();
    });
    const fakeClock = () =>
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'] });

    it('are a tenth of a second of the rate, at most a tenth of the burst, at least one token', () => {
      expect(batchSize({ rate: 100, burst: 200, per: 'second' })).toBe(10);
      expect(batchSize({ rate: 2000, burst: 4000, per: 'second' })).toBe(200);
      expect(batchSize({ rate: 1000, burst: 50, per: 'second' })).toBe(5);
      expect(batchSize({ rate: 600, burst: 600, per: 'minute' })).toBe(1);
      expect(batchSize({ rate: 1, burst: 10, per: 'second' })).toBe(1);
    });

    it('decide most requests without Redis, and keep RateLimit-Remaining what Redis would say', async () => {
      fakeClock();
      const redis = redisBuckets();
      const { service, calls } = setup(redis.take);
      const remaining: string[] = [];
      for (let i = 0; i < 25; i++) {
        const res = await service.admit('10.0.0.1', 'k');
        expect(res.refusal).toBeUndefined();
        remaining.push(res.headers['RateLimit-Remaining']);
      }
      expect(remaining).toEqual(Array.from({ length: 25 }, (_, i) => String(199 - i)));
      // The key's batch of 10 three times; the address's batch of 200 once.
      expect(calls.map((c) => c.map(stripHash))).toEqual([
        ['q:rate:key:HASH', 'q:rate:address:10.0.0.1'],
        ['q:rate:key:HASH'],
        ['q:rate:key:HASH'],
      ]);
    });

    it('never let more through than Redis handed out, and refuse locally until a token is due', async () => {
      fakeClock();
      const redis = redisBuckets();
      const { service, calls } = setup(redis.take, true, {
        KAAS_RATE_LIMIT_PER_KEY: '100',
        KAAS_RATE_LIMIT_PER_KEY_BURST: '30',
      });
      const answers = await Promise.all(Array.from({ length: 50 }, () => service.admit('10.0.0.1', 'k')));
      expect(answers.filter((a) => !a.refusal)).toHaveLength(30);
      const refused = answers.filter((a) => a.refusal);
      expect(refused).toHaveLength(20);
      expect(refused[0].refusal?.details).toEqual({ limit: 'key', retryAfterSeconds: 1 });
      expect(refused[0].headers['RateLimit-Remaining']).toBe('0');
      // Batches of 3 (a tenth of the burst): ten of them, waited for together, then one refusal.
      const before = calls.length;
      expect(before).toBe(11);
      expect((await service.admit('10.0.0.1', 'k')).refusal).toBeDefined();
      expect(calls).toHaveLength(before);
      // A token comes back every 10 ms.
      jest.advanceTimersByTime(10);
      expect((await service.admit('10.0.0.1', 'k')).refusal).toBeUndefined();
      expect(calls.length).toBe(before + 1);
    });

    it('hold several processes to the burst together, each holding back at most a batch', async () => {
      fakeClock();
      const redis = redisBuckets();
      const processes = [setup(redis.take).service, setup(redis.take).service];
      const answers = await Promise.all(
        Array.from({ length: 400 }, (_, i) => processes[i % 2].admit(`10.0.0.${i % 7}`, 'k')),
      );
      const allowed = answers.filter((a) => !a.refusal).length;
      expect(allowed).toBeLessThanOrEqual(200);
      expect(allowed).toBeGreaterThanOrEqual(200 - 2 * 9);
      expect(
        new Set(answers.filter((a) => a.refusal).map((a) => (a.refusal?.details as { limit: string }).limit)),
      ).toEqual(new Set(['key']));
    });

    it('keep unspent tokens for the next request, however late', async () => {
      fakeClock();
      const redis = redisBuckets();
      const { service, calls } = setup(redis.take);
      await service.admit('10.0.0.1', 'k');
      expect(calls).toHaveLength(1);
      jest.advanceTimersByTime(60_000);
      const res = await service.admit('10.0.0.1', 'k');
      expect(calls).toHaveLength(1);
      // Redis refilled to the burst meanwhile: the 8 still held are what a batch adds to a burst.
      expect(res.headers['RateLimit-Remaining']).toBe('200');
      for (let i = 0; i < 8; i++) await service.admit('10.0.0.1', 'k');
      expect(calls).toHaveLength(1);
      await service.admit('10.0.0.1', 'k');
      expect(calls).toHaveLength(2);
    });

    it('with low limits take every token from Redis, as one request asks', async () => {
      const redis = redisBuckets();
      const { service, calls } = setup(redis.take, true, {
        KAAS_RATE_LIMIT_PER_KEY: '1',
        KAAS_RATE_LIMIT_PER_KEY_BURST: '10',
        KAAS_RATE_LIMIT_PER_ADDRESS: '1',
        KAAS_RATE_LIMIT_PER_ADDRESS_BURST: '15',
      });
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) remaining.push((await service.admit('10.0.0.1', 'k')).headers['RateLimit-Remaining']);
      expect(remaining).toEqual(['9', '8', '7']);
      expect(calls.map((c) => c.map((b) => b.cost))).toEqual([
        [1, 1],
        [1, 1],
        [1, 1],
      ]);
    });

    it('do not spend a token of one bucket when Redis refuses the other', async () => {
      fakeClock();
      const redis = redisBuckets();
      const { service } = setup(redis.take, true, {
        KAAS_RATE_LIMIT_PER_ADDRESS: '10',
        KAAS_RATE_LIMIT_PER_ADDRESS_BURST: '2',
      });
      expect((await service.admit('10.0.0.1', 'k')).refusal).toBeUndefined();
      expect((await service.admit('10.0.0.1', 'k')).refusal).toBeUndefined();
      const refused = await service.admit('10.0.0.1', 'k');
      expect(refused.refusal?.details).toEqual({ limit: 'address', retryAfterSeconds: 1 });
      // The key's batch still holds the 8 tokens its two requests did not spend.
      const other = await service.admit('10.0.0.2', 'k');
      expect(other.refusal).toBeUndefined();
      expect(other.headers['RateLimit-Remaining']).toBe('197');
    });
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
