import { DataSource, type DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';

export function dataSourceOptions(databaseUrl: string): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    extra: { max: Number(process.env.KAAS_DB_POOL ?? 20), application_name: 'kaas' },
  };
}

/** Used by the typeorm CLI (`npm run migration:*`) on the compiled output. */
export default new DataSource(dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://kaas@127.0.0.1:55432/kaas'));
