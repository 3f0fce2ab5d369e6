import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Hosts1764212400000 implements MigrationInterface {
  name = 'Hosts1764212400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE hosts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name varchar(63) NOT NULL,
      uri varchar(1024) NOT NULL,
      domain_type varchar(8) NOT NULL CHECK (domain_type IN ('kvm', 'qemu')),
      simulated boolean NOT NULL,
      state varchar(16) NOT NULL DEFAULT 'Pending',
      drained boolean NOT NULL DEFAULT false,
      cpus integer NOT NULL CHECK (cpus > 0),
      memory_mib integer NOT NULL CHECK (memory_mib > 0),
      last_seen_at timestamptz,
      last_error varchar(1024),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_hosts_name UNIQUE (name),
      CONSTRAINT uq_hosts_uri UNIQUE (uri)
    )`);
    await q.query(`CREATE TABLE images (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name varchar(63) NOT NULL,
      kind varchar(8) NOT NULL CHECK (kind IN ('kernel', 'qcow2')),
      kernel_path varchar(1024),
      initrd_path varchar(1024),
      disk_path varchar(1024),
      kernel_cmdline varchar(1024) NOT NULL DEFAULT 'console=ttyS0',
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT uq_images_name UNIQUE (name),
      CONSTRAINT ck_images_paths CHECK (
        (kind = 'kernel' AND kernel_path IS NOT NULL AND initrd_path IS NOT NULL) OR
        (kind = 'qcow2' AND disk_path IS NOT NULL))
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_images_default ON images (is_default) WHERE is_default`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE images`);
    await q.query(`DROP TABLE hosts`);
  }
}
