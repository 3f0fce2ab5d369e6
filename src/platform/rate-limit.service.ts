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

/**
 * Request limits per API key (or admin token), per source address, and on failed authentications
 * per source address, kept in Redis so that every API process shares them. When Redis cannot
 * answer, requests go through (with a warning in the log): the limits protect the platform, an
 * outage of them must not stop it.
 */
@Injectable()
export class RateLimitService {
  private readonly refused: Counter<'limit'>;
  private readonly unchecked: Counter;
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
    const calls: [LimitName, RateLimit, BucketCall][] = [];
    const add = (name: LimitName, limit: RateLimit, id: string) => {
      if (limit.rate > 0) calls.push([name, limit, this.bucket(name, limit, id)]);
    };
    add('address', perAddress, addressKey(ip));
    if (token !== undefined) add('key', perKey, sha256(token).toString('hex').slice(0, 32));
    if (calls.length === 0) return { headers: {} };
    const answer = await this.call(calls.map(([, , c]) => c));
    if (!answer) return { headers: {} };
    // The headers describe the budget the caller is most likely to care about: the key's.
    const shown = calls.findIndex(([name]) => name === 'key');
    const index = shown >= 0 ? shown : 0;
    if (answer.allowed) return { headers: this.headers(calls[index][1], answer.remaining[index]) };
    const order: LimitName[] = ['key', 'address'];
    const exceeded = order
      .map((name) => calls.findIndex(([n]) => n === name))
      .find((i) => i >= 0 && answer.remaining[i] < 1)!;
    const [name, limit] = calls[exceeded];
    return this.refuse(name, limit, answer.remaining[exceeded], answer.retryAfterMs);
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
    const answer = await this.call([this.bucket('authFailures', limit, addressKey(ip))]);
    if (!answer || answer.allowed) return { headers: {} };
    return this.refuse('authFailures', limit, answer.remaining[0], answer.retryAfterMs);
  }

  /** One request's share of a bucket: refused unless a whole token is left, and then takes it. */
  private bucket(name: LimitName, limit: RateLimit, id: string): BucketCall {
    return { key: this.key(name, id), ratePerSecond: perSecond(limit), burst: limit.burst, need: 1, cost: 1 };
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
