import { type DynamicModule, Global, Module, type OnApplicationShutdown, Inject } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { Database } from '../common/database.js';
import { IdempotencyEffects } from '../common/idempotency-effects.js';
import { SecretBox } from '../common/secret-box.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import type { AppConfig } from './config.js';
import { dataSourceOptions } from './data-source.js';

class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** Configuration, logger, the database and the secret keys: what every process needs. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_LOGGER, useValue: logger },
        {
          provide: DataSource,
          useFactory: async () => new DataSource(dataSourceOptions(config.databaseUrl)).initialize(),
        },
        Database,
        IdempotencyEffects,
        { provide: SecretBox, useFactory: () => SecretBox.fromConfig(config, logger) },
        DataSourceCloser,
      ],
      exports: [APP_CONFIG, APP_LOGGER, DataSource, Database, IdempotencyEffects, SecretBox],
    };
  }
}
