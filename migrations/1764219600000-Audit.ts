import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log: one row per write to the API. Append-only: a trigger refuses UPDATE, TRUNCATE,
 * and DELETE, except a DELETE in a transaction that sets `kaas.audit_retention` to `on` (the
 * operator's explicit retention step, see docs/security.md).
 */
export class Audit1764219600000 implements MigrationInterface {
  name = 'Audit1764219600000';

  async up(q: QueryRunner): Promise<void> {
    // No foreign keys: the record of a write outlives the tenant, key or resource it names.
    await q.query(`CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor_kind varchar(8) NOT NULL CHECK (actor_kind IN ('admin', 'tenant')),
      actor_tenant_id uuid,
      actor_api_key_id uuid,
      tenant_id uuid,
      source_ip varchar(64) NOT NULL,
      method varchar(8) NOT NULL,
      path varchar(1024) NOT NULL,
      resource_kind varchar(64),
      resource_id uuid,
      status_code smallint NOT NULL CHECK (status_code BETWEEN 100 AND 599),
      outcome varchar(8) NOT NULL CHECK (outcome IN ('success', 'failure')),
      request_id varchar(100) NOT NULL
    )`);
    await q.query(`CREATE INDEX ix_audit_log_at ON audit_log (at)`);
    await q.query(`CREATE INDEX ix_audit_log_tenant ON audit_log (tenant_id, id DESC)`);
    await q.query(`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('kaas.audit_retention', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
    $$`);
    await q.query(`CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await q.query(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP FUNCTION audit_log_append_only()`);
  }
}
