import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each node runs one version of its cluster's control-plane bundle: the cluster's version when
 * the node was made. A rolling upgrade replaces the nodes whose version is not the cluster's.
 */
export class NodeVersions1764244800000 implements MigrationInterface {
  name = 'NodeVersions1764244800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN version varchar(32)`);
    await q.query(`UPDATE nodes n SET version = c.version FROM clusters c WHERE c.id = n.cluster_id`);
    await q.query(`ALTER TABLE nodes ALTER COLUMN version SET NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes DROP COLUMN version`);
  }
}
