import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventEmitter } from 'node:events';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/config/data-source.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

interface PoolClient extends EventEmitter {
  processID: number;
  query(sql: string): Promise<unknown>;
  release(err?: Error): void;
}

/**
 * PostgreSQL going away under a connection that is checked out but between queries must not end
 * the process (pg emits 'error' on such a client; without a listener that is an uncaught
 * exception, which the chaos suite saw kill a starting worker).
 */
describe('database connections when PostgreSQL drops them', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let admin: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    ds = await new DataSource(dataSourceOptions(db.url)).initialize();
    admin = await new DataSource(dataSourceOptions(db.url)).initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await admin?.destroy();
    await db?.drop();
  });

  it('survives a connection terminated while checked out, and keeps serving queries', async () => {
    const pool = (ds.driver as unknown as { master: { connect(): Promise<PoolClient> } }).master;
    const client = await pool.connect();
    // The pool's own listener (nothing added here: without it, the termination below would be
    // an uncaught exception and fail this test).
    expect(client.listenerCount('error')).toBeGreaterThan(0);
    await admin.query('SELECT pg_terminate_backend($1)', [client.processID]);
    await new Promise((r) => setTimeout(r, 300));
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release(new Error('connection lost'));
    // The process is still here, and the pool hands out working connections.
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
