import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Worker pools: a cluster's workers are declared as named pools (`worker_pools`, each with its
 * count, node size, labels, taints and autoscaling bounds). `workers` stays the sum of the
 * pools' counts, and `worker_vcpus`, `worker_memory_mib` and `worker_disk_gib` the sums of what
 * they declare, so quota and storage checks stay one SQL expression. A node names its pool and
 * keeps the labels and taints it was made with. Every existing cluster gets one pool, `default`,
 * of its workers at its node size.
 */
export class WorkerPools1764237600000 implements MigrationInterface {
  name = 'WorkerPools1764237600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clusters
      ADD COLUMN worker_pools jsonb NOT NULL DEFAULT '[]'::jsonb,
      ADD COLUMN worker_vcpus integer NOT NULL DEFAULT 0 CHECK (worker_vcpus >= 0),
      ADD COLUMN worker_memory_mib integer NOT NULL DEFAULT 0 CHECK (worker_memory_mib >= 0),
      ADD COLUMN worker_disk_gib integer NOT NULL DEFAULT 0 CHECK (worker_disk_gib >= 0)`);
    await q.query(`UPDATE clusters SET
        worker_pools = jsonb_build_array(jsonb_build_object(
          'name', 'default', 'count', workers,
          'nodeSpec', jsonb_build_object('vcpus', vcpus, 'memoryMiB', memory_mib, 'diskGiB', disk_gib),
          'labels', '{}'::jsonb, 'taints', '[]'::jsonb)),
        worker_vcpus = workers * vcpus,
        worker_memory_mib = workers * memory_mib,
        worker_disk_gib = workers * disk_gib`);
    await q.query(`ALTER TABLE nodes
      ADD COLUMN pool varchar(63),
      ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb,
      ADD COLUMN taints jsonb NOT NULL DEFAULT '[]'::jsonb`);
    await q.query(`UPDATE nodes SET pool = 'default' WHERE role = 'worker'`);
    await q.query(`ALTER TABLE nodes ADD CONSTRAINT ck_nodes_pool_role CHECK ((role = 'master') = (pool IS NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE nodes DROP CONSTRAINT ck_nodes_pool_role, DROP COLUMN pool, DROP COLUMN labels, DROP COLUMN taints`,
    );
    await q.query(`ALTER TABLE clusters DROP COLUMN worker_pools, DROP COLUMN worker_vcpus,
      DROP COLUMN worker_memory_mib, DROP COLUMN worker_disk_gib`);
  }
}
