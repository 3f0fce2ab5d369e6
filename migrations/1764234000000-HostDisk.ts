import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A host's disk for nodes' volumes, in GiB: given at registration, or measured by its sweep (the
 * file system under its platform pool). Null: not known yet, and then not a placement limit.
 */
export class HostDisk1764234000000 implements MigrationInterface {
  name = 'HostDisk1764234000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hosts ADD COLUMN disk_gib integer CHECK (disk_gib IS NULL OR disk_gib > 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hosts DROP COLUMN disk_gib`);
  }
}
