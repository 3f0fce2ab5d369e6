import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The generation of its declared state that a cluster's reconciler last acted on, shown beside
 * `generation` so a client can tell when a change it made has been taken up.
 */
export class ObservedGeneration1764241200000 implements MigrationInterface {
  name = 'ObservedGeneration1764241200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clusters ADD COLUMN observed_generation integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clusters DROP COLUMN observed_generation`);
  }
}
