import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/config/data-source.js';
import { MIGRATIONS } from '../../src/config/migrations.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

async function tables(ds: DataSource): Promise<string[]> {
  const rows: { table_name: string }[] = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    ds = await new DataSource(dataSourceOptions(db.url)).initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('go up, all the way down, and up again', async () => {
    const applied = await ds.runMigrations({ transaction: 'each' });
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((M) => new M().name));
    const afterUp = await tables(ds);
    expect(afterUp).toEqual(expect.arrayContaining(['tenants', 'api_keys', 'idempotency_records', 'storage_pools']));

    for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).toEqual([]);

    await ds.runMigrations({ transaction: 'each' });
    expect(await tables(ds)).toEqual(afterUp);
  });

  it('create every table and column the entities map', async () => {
    // Constraints, indexes and checks live only in the migrations (entities do not repeat them),
    // so the schema builder's wish to drop them is expected; anything it would add is drift.
    const sql = await ds.driver.createSchemaBuilder().log();
    const drift = sql.upQueries
      .map((q) => q.query)
      .filter(
        (q) =>
          !/^(ALTER TABLE "\w+" DROP CONSTRAINT|DROP INDEX|ALTER TABLE "\w+" ALTER COLUMN "\w+" DROP DEFAULT)/.test(q),
      );
    expect(drift).toEqual([]);
  });
});
