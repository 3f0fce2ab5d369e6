import { Inject, Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { AppConfig, RateLimit } from '../config/config.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { sha256 } from '../common/secrets.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import { MetricsService } from './metrics.service.js';
import { type BucketCall, TokenBuckets } from './token-buckets.js';

type LimitName = 'key' | 'address' | 'authFailures';

export interface Admission {
  /** RateLimit-* (and, when refused, Retry-After) headers for the answer. */
  headers: Record<string, string>;
  /** Set when the request is refused: a 429 naming the limit. */
  refusal?: DomainError;
}

/** How long a rate-limit call may take before the request goes through without it. */
const STORE_TIMEOUT_MS = 250;
const WARN_EVERY_MS = 60_000;

const MESSAGES: Record<LimitName, string> = {
  key: 'too many requests with this key',
  address: 'too many requests from this address',
  authFailures: 'too many failed authentications from this address',
};

/** IPv4 (also when mapped into IPv6) as is; IPv6 by its /64, which one subscriber usually holds whole. */
export function addressKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const bare = ip.split('%')[0].toLowerCase();
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '') || '0')
    .join(':')}::/64`;
}

function perSecond(limit: RateLimit): number {
  return limit.per === 'minute' ? limit.rate / 60 : limit.rate;
}

/** A batch is at most this many seconds' worth of a limit's rate... */
const BATCH_SECONDS = 0.1;
/** ...and at most this share of its burst. */
const BATCH_SHARE_OF_BURST = 0.1;
/** Buckets this process remembers; past that, the idle ones are forgotten. */
const MAX_LOCAL_BUCKETS = 10_000;

/**
 * How many tokens an API process takes from a Redis bucket at once, to spend them locally: a
 * tenth of a second's worth of the rate, at most a tenth of the burst. A limit whose batch would
 * be a single token (the failed authentications, low limits) is checked in Redis on every request.
 */
export function batchSize(limit: RateLimit): number {
  return Math.max(1, Math.floor(Math.min(perSecond(limit) * BATCH_SECONDS, limit.burst * BATCH_SHARE_OF_BURST)));
}

/** One request's bucket: which limit, and its key in Redis. */
interface Wanted {
  name: LimitName;
  limit: RateLimit;
  key: string;
}

/** What this process knows of one Redis bucket. */
interface LocalBucket {
  /**
   * Tokens taken from Redis and not spent yet: kept for this bucket's next requests, however late
   * they come, so that none is lost (what they add to a burst is at most a batch).
   */
  tokens: number;
  /** The bucket's level in Redis after this process last took from it, and when (performance.now()). */
  level: number;
  at: number;
  /** Redis refused this bucket: until then every request is refused here without asking again. */
  emptyUntil: number;
  /** A call to Redis for this bucket under way: others wait for its batch instead of asking too. */
  pending?: Promise<unknown>;
}

type Decision =
  { allowed: true; remaining: number[] } | { allowed: false; index: number; remaining: number; retryAfterMs: number };

/**
 * Request limits per API key (or admin token), per source address, and on failed authentications
 * per source address, kept in Redis so that every API process shares them. A process takes tokens
 * from Redis in batches (see batchSize) and spends them locally, so most requests are decided
 * without a round trip; once Redis refuses a bucket, the process refuses it on its own until a
 * token comes back. When Redis cannot answer, requests go through (with a warning in the log): the
 * limits protect the platform, an outage of them must not stop it.
 */
@Injectable()
export class RateLimitService {
  private readonly refused: Counter<'limit'>;
  private readonly unchecked: Counter;
  private readonly local = new Map<string, LocalBucket>();
  private lastWarning = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly buckets: TokenBuckets,
    metrics: MetricsService,
  ) {
    this.refused = new Counter({
      name: 'kaas_rate_limited_requests_total',
      help: 'Requests refused with 429, by the limit they exceeded',
      labelNames: ['limit'],
      registers: [metrics.registry],
    });
    this.unchecked = new Counter({
      name: 'kaas_rate_limit_unchecked_requests_total',
      help: 'Requests let through without a rate-limit check because Redis did not answer',
      registers: [metrics.registry],
    });
  }

  /**
   * Before authentication: takes one request from the address's budget and, when the request
   * carries a token, from the token's. The failed-authentication budget is not looked at here:
   * it only ever holds back tokens that do not verify (see authenticationFailed).
   */
  async admit(ip: string | undefined, token: string | undefined): Promise<Admission> {
    const { perKey, perAddress } = this.config.rateLimits;
    // The order in which an exceeded limit is named: the key's first.
    const wanted: Wanted[] = [];
    if (token !== undefined && perKey.rate > 0)
      wanted.push({ name: 'key', limit: perKey, key: this.key('key', sha256(token).toString('hex').slice(0, 32)) });
    if (perAddress.rate > 0)
      wanted.push({ name: 'address', limit: perAddress, key: this.key('address', addressKey(ip)) });
    if (wanted.length === 0) return { headers: {} };
    const decision = await this.decide(wanted);
    if (!decision) return { headers: {} };
    // The headers describe the budget the caller is most likely to care about: the key's (first).
    if (decision.allowed) return { headers: this.headers(wanted[0].limit, decision.remaining[0]) };
    const { name, limit } = wanted[decision.index];
    return this.refuse(name, limit, decision.remaining, decision.retryAfterMs);
  }

  /**
   * After a token did not verify: takes one from the address's failed authentications. While
   * some are left the caller hears 401; once they are used up, every token that does not verify
   * gets the same 429 (and takes nothing more), whatever was wrong with it, while tokens that do
   * verify never reach this budget.
   */
  async authenticationFailed(ip: string | undefined): Promise<Admission> {
    const limit = this.config.rateLimits.authFailures;
    if (limit.rate === 0) return { headers: {} };
    const decision = await this.decide([
      { name: 'authFailures', limit, key: this.key('authFailures', addressKey(ip)) },
    ]);
    if (!decision || decision.allowed) return { headers: {} };
    return this.refuse('authFailures', limit, decision.remaining, decision.retryAfterMs);
  }

  /**
   * One token from every bucket, or none: from this process's batches when each holds one, else
   * from Redis for those that do not (a batch each). While a call for a bucket is under way, other
   * requests wait for its batch instead of asking too, so that a process never holds more than
   * about one batch of a bucket. Undefined when Redis does not answer.
   */
  private async decide(wanted: Wanted[]): Promise<Decision | undefined> {
    let local = wanted.map((w) => this.localBucket(w.key));
    let short: number[];
    const awaited = new Set<Promise<unknown>>();
    for (;;) {
      const now = performance.now();
      short = [];
      for (const [i, b] of local.entries()) {
        if (b.tokens >= 1) continue;
        if (b.emptyUntil > now)
          return {
            allowed: false,
            index: i,
            remaining: this.estimate(wanted[i].limit, b, now),
            retryAfterMs: b.emptyUntil - now,
          };
        short.push(i);
      }
      if (short.length === 0) {
        for (const b of local) b.tokens -= 1;
        return { allowed: true, remaining: local.map((b, i) => this.estimate(wanted[i].limit, b, now)) };
      }
      // A batch of one token leaves nothing to share: such a request asks on its own.
      const pending = short
        .filter((i) => batchSize(wanted[i].limit) > 1)
        .map((i) => local[i].pending)
        .filter((p) => p !== undefined && !awaited.has(p)) as Promise<unknown>[];
      if (pending.length === 0) break;
      for (const p of pending) awaited.add(p);
      await Promise.allSettled(pending);
      // The entries may have been forgotten meanwhile.
      local = wanted.map((w) => this.localBucket(w.key));
    }
    // Held for this request while Redis is asked for the others; given back if it refuses.
    const held = local.filter((_, i) => !short.includes(i));
    for (const b of held) b.tokens -= 1;
    const call = this.call(
      short.map((i) => ({
        key: wanted[i].key,
        ratePerSecond: perSecond(wanted[i].limit),
        burst: wanted[i].limit.burst,
        need: 1,
        cost: batchSize(wanted[i].limit),
      })),
    );
    for (const i of short) local[i].pending = call;
    const answer = await call;
    const at = performance.now();
    for (const i of short) if (local[i].pending === call) local[i].pending = undefined;
    if (!answer || !answer.allowed) for (const b of held) b.tokens += 1;
    if (!answer) return undefined;
    short.forEach((i, j) => {
      const b = local[i];
      b.level = answer.remaining[j];
      b.at = at;
      if (answer.allowed) {
        // This request spends one of the batch; the process keeps the rest.
        b.tokens += answer.granted[j] - 1;
      } else if (answer.remaining[j] < 1) {
        b.emptyUntil = at + Math.ceil(((1 - answer.remaining[j]) / perSecond(wanted[i].limit)) * 1000);
      }
    });
    if (answer.allowed) return { allowed: true, remaining: local.map((b, i) => this.estimate(wanted[i].limit, b, at)) };
    const j = answer.remaining.findIndex((level) => level < 1);
    return { allowed: false, index: short[j], remaining: answer.remaining[j], retryAfterMs: answer.retryAfterMs };
  }

  /** What is left of a bucket for its caller: Redis's level as last seen, refilled since, and this process's batch. */
  private estimate(limit: RateLimit, b: LocalBucket, now: number): number {
    const refilled = Math.min(limit.burst, b.level + (Math.max(0, now - b.at) / 1000) * perSecond(limit));
    return Math.min(limit.burst, refilled + b.tokens);
  }

  private localBucket(key: string): LocalBucket {
    let b = this.local.get(key);
    if (b) return b;
    if (this.local.size >= MAX_LOCAL_BUCKETS) this.forgetIdle();
    b = { tokens: 0, level: 0, at: 0, emptyUntil: 0 };
    this.local.set(key, b);
    return b;
  }

  /** Forgets buckets with nothing to spend, refuse or wait for; all but the busy ones when that is not enough. */
  private forgetIdle(): void {
    const now = performance.now();
    for (const [key, b] of this.local) if (!b.pending && b.emptyUntil <= now && b.tokens < 1) this.local.delete(key);
    if (this.local.size >= MAX_LOCAL_BUCKETS / 2)
      for (const [key, b] of this.local) if (!b.pending) this.local.delete(key);
  }

  private refuse(name: LimitName, limit: RateLimit, remaining: number, retryAfterMs: number): Admission {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    this.refused.inc({ limit: name });
    return {
      headers: { ...this.headers(limit, remaining), 'Retry-After': String(retryAfter) },
      refusal: new DomainError(ErrorCode.RateLimited, `${MESSAGES[name]}; retry in ${retryAfter} s`, {
        limit: name,
        retryAfterSeconds: retryAfter,
      }),
    };
  }

  private key(name: LimitName, id: string): string {
    return `${this.config.queuePrefix}:rate:${name}:${id}`;
  }

  private headers(limit: RateLimit, remaining: number): Record<string, string> {
    const left = Math.max(0, Math.floor(remaining));
    return {
      'RateLimit-Limit': String(limit.burst),
      'RateLimit-Remaining': String(left),
      'RateLimit-Reset': String(Math.ceil((limit.burst - remaining) / perSecond(limit))),
    };
  }

  private async call(calls: BucketCall[]) {
    if (!this.buckets.ready) {
      this.unavailable('Redis is not connected');
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.buckets.take(calls),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.unavailable((err as Error).message);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private unavailable(reason: string): void {
    this.unchecked.inc();
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    this.logger.warn({ reason }, 'rate limits are not enforced: Redis does not answer; requests go through unchecked');
  }
}
