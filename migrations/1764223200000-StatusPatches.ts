import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Status written by patch, and history kept as data:
 *   - `status_version` on nodes and clusters: every status write names the version it was
 *     computed from and bumps it, so two writers can never overwrite each other's conditions;
 *   - `remediations`: each replacement of an unhealthy node, counted for the back-off window;
 *   - `clusters.autoscaled_at`: when the autoscaler last changed the size (its cool-down).
 * Both used to be read back from events, which are for people and may be pruned.
 */
export class StatusPatches1764223200000 implements MigrationInterface {
  name = 'StatusPatches1764223200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN status_version integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE clusters ADD COLUMN status_version integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE clusters ADD COLUMN autoscaled_at timestamptz`);
    await q.query(`CREATE TABLE remediations (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
      node_id uuid NOT NULL,
      node_name varchar(63) NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX ix_remediations_cluster ON remediations (cluster_id, started_at)`);
    // What the events still tell of the last day, so a back-off or cool-down in force stays so.
    await q.query(`INSERT INTO remediations (cluster_id, node_id, node_name, started_at)
      SELECT e.cluster_id, e.node_id, COALESCE(n.name, ''), e.created_at FROM events e
        LEFT JOIN nodes n ON n.id = e.node_id
       WHERE e.reason = 'RemediationStarted' AND e.node_id IS NOT NULL AND e.created_at > now() - interval '1 day'`);
    await q.query(`UPDATE clusters c SET autoscaled_at = e.at
      FROM (SELECT cluster_id, max(created_at) AS at FROM events WHERE reason = 'Autoscaled' GROUP BY cluster_id) e
     WHERE e.cluster_id = c.id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE remediations`);
    await q.query(`ALTER TABLE clusters DROP COLUMN autoscaled_at`);
    await q.query(`ALTER TABLE clusters DROP COLUMN status_version`);
    await q.query(`ALTER TABLE nodes DROP COLUMN status_version`);
  }
}
