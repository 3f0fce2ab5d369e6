import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Certificate rotation: `certificates_generation` of a cluster rises with every rotation asked
 * for; a node made before (a lower generation) or whose certificate ends within 30 days is
 * replaced by a new node with new certificates, one at a time as in a rolling upgrade.
 */
export class CertificateRotation1764248400000 implements MigrationInterface {
  name = 'CertificateRotation1764248400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clusters ADD COLUMN certificates_generation integer NOT NULL DEFAULT 1`);
    await q.query(`ALTER TABLE nodes ADD COLUMN certificates_generation integer NOT NULL DEFAULT 1,
                   ADD COLUMN certificate_expires_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes DROP COLUMN certificates_generation, DROP COLUMN certificate_expires_at`);
    await q.query(`ALTER TABLE clusters DROP COLUMN certificates_generation`);
  }
}
