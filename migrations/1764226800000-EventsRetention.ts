import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index for the events prune's age cut (created_at), so that it reads only the rows it deletes.
 * Built CONCURRENTLY, outside a transaction, because the table it indexes is the one that grew
 * without bound before retention: a plain build would block every event write until it finished.
 */
export class EventsRetention1764226800000 implements MigrationInterface {
  name = 'EventsRetention1764226800000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // A concurrent build that failed leaves an invalid index behind; the retry starts afresh.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ix_events_created_at`);
    await q.query(`CREATE INDEX CONCURRENTLY ix_events_created_at ON events (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Reverts run inside a transaction, where CONCURRENTLY is not allowed; dropping is quick.
    await q.query(`DROP INDEX IF EXISTS ix_events_created_at`);
  }
}
