import type { Provider } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/config.js';
import type { Logger } from 'pino';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';

export const REDIS = Symbol('REDIS');

export const redisProvider: Provider = {
  provide: REDIS,
  inject: [APP_CONFIG, APP_LOGGER],
  useFactory: (config: AppConfig, logger: Logger) => {
    const redis = new Redis(config.redisUrl, {
      maxRetriesPerRequest: 2,
      enableReadyCheck: true,
      retryStrategy: (times) => Math.min(times * 200, 5000),
      // A connection that died without closing (a half-open TCP connection: nothing answers and
      // nothing says so) would hold a command forever, and with it the host lease round, whose
      // renewals then stop for good. This client sends no blocking commands: none takes this long.
      commandTimeout: 10000,
    });
    // ioredis reconnects by itself; without a listener it would also print each error to stderr.
    redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'Redis connection error'));
    return redis;
  },
};
