import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import type { AuthContext } from '../common/auth-context.js';
import { randomToken, sameHash, sha256 } from '../common/secrets.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import { REDIS } from '../jobs/redis.provider.js';
import { parseApiKey } from './api-key-format.js';
import { ApiKeysRepository } from './api-keys.repository.js';

/** How long a verified key is taken as valid without asking the database again. */
export const AUTH_CACHE_MS = 5000;
const CACHE_LIMIT = 10000;
/** Compared against when no key has the prefix, so that case costs what a wrong secret costs. */
const NO_SUCH_KEY = sha256(randomToken(32));

/**
 * Resolves a bearer token to a caller, or undefined. Never logs the token.
 *
 * A key verified against the database is remembered for AUTH_CACHE_MS under the SHA-256 of the
 * whole token (the token itself is never kept), so a client's requests cost no key lookup each.
 * A revocation takes effect at once in the process that made it, and in the others as soon as
 * they hear of it through Redis (channel `<prefix>:auth:revoked`); with Redis away, within
 * AUTH_CACHE_MS.
 */
@Injectable()
export class AuthService implements OnApplicationShutdown {
  private readonly adminTokenHash: Buffer | undefined;
  private readonly verified = new Map<string, { caller: AuthContext; keyId: string; until: number }>();
  private readonly channel: string;
  private subscriber: Redis | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly keys: ApiKeysRepository,
  ) {
    this.adminTokenHash = config.adminToken ? sha256(config.adminToken) : undefined;
    this.channel = `${config.queuePrefix}:auth:revoked`;
  }

  async authenticate(token: string): Promise<AuthContext | undefined> {
    const tokenHash = sha256(token);
    if (this.adminTokenHash && sameHash(tokenHash, this.adminTokenHash)) {
      return { kind: 'admin', principalId: 'admin-token' };
    }
    const cacheKey = tokenHash.toString('hex');
    const known = this.verified.get(cacheKey);
    if (known && known.until > Date.now()) return known.caller;
    const parsed = parseApiKey(token);
    if (!parsed) return undefined;
    this.listen();
    const row = await this.keys.findActiveByPrefix(parsed.prefix);
    const verified = sameHash(sha256(parsed.secret), row?.secretHash ?? NO_SUCH_KEY);
    if (!row || !verified) return undefined;
    const caller: AuthContext = row.tenantId
      ? { kind: 'tenant', tenantId: row.tenantId, principalId: `key:${row.id}` }
      : { kind: 'admin', principalId: `key:${row.id}` };
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(cacheKey, { caller, keyId: row.id, until: Date.now() + AUTH_CACHE_MS });
    return caller;
  }

  /** A key was revoked: forget it here and tell the other API processes. */
  async revoked(keyId: string): Promise<void> {
    this.forget(keyId);
    await this.redis
      .publish(this.channel, keyId)
      .catch((err: unknown) =>
        this.logger.warn(
          { err: (err as Error).message },
          'cannot announce a key revocation; others forget it within 5 s',
        ),
      );
  }

  private forget(keyId: string): void {
    for (const [k, v] of this.verified) if (v.keyId === keyId) this.verified.delete(k);
  }

  /** Subscribes to revocations once a process first verifies a key (workers never do). */
  private listen(): void {
    if (this.subscriber) return;
    const sub = this.redis.duplicate();
    this.subscriber = sub;
    sub.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'Redis connection error (revocations)'));
    sub.on('message', (_channel: string, keyId: string) => this.forget(keyId));
    // Resubscribed by ioredis after a reconnect; while it is away, the cache's time bounds a revocation.
    sub.subscribe(this.channel).catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
