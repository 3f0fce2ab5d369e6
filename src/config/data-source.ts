import type { EventEmitter } from 'node:events';
import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { readIfExists } from './bootstrap.js';
import { withStoredPassword } from './config.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';

/**
 * pg's Pool, with an error listener on every client it opens. A client that is checked out but
 * between queries (TypeORM holds one while it starts, for instance) emits 'error' when PostgreSQL
 * goes away; without a listener that is an uncaught exception that ends the process. The error
 * itself still reaches whoever uses the client next, which fails and is retried.
 */
class ResilientPool extends pg.Pool {
  constructor(config?: pg.PoolConfig) {
    super(config);
    this.on('connect', (client: EventEmitter) => client.on('error', () => undefined));
  }
}
const PG_DRIVER = { ...pg, Pool: ResilientPool };

export function dataSourceOptions(databaseUrl: string): DataSourceOptions {
  return {
    type: 'postgres',
    driver: PG_DRIVER,
    url: databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    extra: {
      max: Number(process.env.KAAS_DB_POOL ?? 20),
      application_name: 'kaas',
      // Transactions are READ COMMITTED whatever the server's default (Database.transaction).
      options: '-c default_transaction_isolation=read\\ committed',
    },
  };
}

/** Used by the typeorm CLI (`npm run migration:*`) on the compiled output. */
export default new DataSource(
  dataSourceOptions(
    process.env.DATABASE_URL ??
      withStoredPassword(
        'postgres://kaas@127.0.0.1:55432/kaas',
        `${process.env.KAAS_DATA_DIR ?? `${process.cwd()}/.data`}/secrets/postgres.password`,
        readIfExists,
      ),
  ),
);
