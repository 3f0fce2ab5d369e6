import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS } from '../jobs/redis.provider.js';

/** One bucket touched by a request. */
export interface BucketCall {
  key: string;
  /** Tokens that come back per second. */
  ratePerSecond: number;
  /** Most tokens a bucket holds. */
  burst: number;
  /** The call is refused unless the bucket holds at least this many tokens. */
  need: number;
  /**
   * Most tokens taken when the call is allowed (0: only look): as many whole tokens as the bucket
   * holds, up to this, and never fewer than `need`.
   */
  cost: number;
}

export interface BucketAnswer {
  allowed: boolean;
  /** When refused: how long until every bucket holds what was needed. */
  retryAfterMs: number;
  /** Tokens left in each bucket, in the order of the calls. */
  remaining: number[];
  /** Tokens taken from each bucket, in the order of the calls (all 0 when refused). */
  granted: number[];
}

/**
 * Token buckets checked and taken in one step by a Lua script, so that several API processes
 * share them without races; the clock is Redis's, so the processes' clocks do not matter. All the
 * buckets of one call are taken together or not at all.
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local levels = {}
local wait = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[i * 4 - 3]) / 1000
  local burst = tonumber(ARGV[i * 4 - 2])
  local need = tonumber(ARGV[i * 4 - 1])
  local saved = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local level = burst
  if saved[1] then
    level = math.min(burst, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * rate)
  end
  levels[i] = level
  if level < need then
    local w = math.ceil((need - level) / rate)
    if w > wait then wait = w end
  end
end
local out = { wait == 0 and 1 or 0, wait }
local granted = {}
for i = 1, #KEYS do
  local rate = tonumber(ARGV[i * 4 - 3]) / 1000
  local burst = tonumber(ARGV[i * 4 - 2])
  local need = tonumber(ARGV[i * 4 - 1])
  local cost = tonumber(ARGV[i * 4])
  local level = levels[i]
  local take = 0
  if wait == 0 and cost ~= 0 then
    take = math.max(need, math.min(cost, math.floor(level)))
    level = math.max(0, level - take)
    redis.call('HSET', KEYS[i], 'tokens', tostring(level), 'at', tostring(now))
    redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate) + 1000)
  end
  out[#out + 1] = tostring(level)
  granted[i] = take
end
for i = 1, #KEYS do
  out[#out + 1] = granted[i]
end
return out
`;

type TakeTokens = (numKeys: number, ...args: (string | number)[]) => Promise<(number | string)[]>;

/** The one class that keeps rate-limit state in Redis. */
@Injectable()
export class TokenBuckets {
  constructor(@Inject(REDIS) private readonly redis: Redis) {
    if (!(redis as unknown as { kaasTakeTokens?: TakeTokens }).kaasTakeTokens) {
      redis.defineCommand('kaasTakeTokens', { lua: SCRIPT });
    }
  }

  /** False while the connection is down: callers then let requests through instead of waiting. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  async take(calls: BucketCall[]): Promise<BucketAnswer> {
    const args = calls.flatMap((c) => [c.ratePerSecond, c.burst, c.need, c.cost]);
    const take = (this.redis as unknown as { kaasTakeTokens: TakeTokens }).kaasTakeTokens.bind(this.redis);
    const [allowed, wait, ...rest] = await take(calls.length, ...calls.map((c) => c.key), ...args);
    return {
      allowed: Number(allowed) === 1,
      retryAfterMs: Number(wait),
      remaining: rest.slice(0, calls.length).map(Number),
      granted: rest.slice(calls.length).map(Number),
    };
  }
}
