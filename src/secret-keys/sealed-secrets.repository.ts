import { Injectable } from '@nestjs/common';
import { Database } from '../common/database.js';

/** The tables that keep secrets sealed under the platform's key ring. */
export const SEALED_TABLES = ['clusterSecrets', 'idempotency'] as const;
export type SealedTable = (typeof SEALED_TABLES)[number];

/** One sealed secret: its row's key, the ciphertext, and the associated data it was sealed with. */
export interface SealedRow {
  id: string[];
  sealed: string;
  associatedData: string;
}

export interface Resealed {
  id: string[];
  /** The ciphertext read: the row is only changed if it still holds it. */
  was: string;
  sealed: string;
}

interface TableSql {
  /** How many columns the primary key has. */
  keyColumns: number;
  /**
   * Rows after the keyset cursor (the key columns: $1.., null for the first page) whose secret is
   * not sealed under the current key (then: a LIKE pattern), so many at most (last).
   */
  page: string;
  /** Compare-and-set of a batch: $1.. are arrays of the key columns, the old and the new ciphertext. */
  replace: string;
  /** The sealed values, for counting by key id. */
  sealed: string;
}

/**
 * The associated data here must stay what the owners seal with: the cluster id
 * (ClusterSecretsStore) and `<principal>/<key>` (IdempotencyInterceptor).
 */
const TABLES: Record<SealedTable, TableSql> = {
  clusterSecrets: {
    keyColumns: 1,
    page: `SELECT ARRAY[cluster_id::text] AS id, sealed, cluster_id::text AS "associatedData"
             FROM cluster_secrets
            WHERE ($1::uuid IS NULL OR cluster_id > $1::uuid) AND sealed NOT LIKE $2
            ORDER BY cluster_id
            LIMIT $3`,
    replace: `WITH changed AS (
                UPDATE cluster_secrets c SET sealed = v.sealed
                  FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(cluster_id, was, sealed)
                 WHERE c.cluster_id = v.cluster_id AND c.sealed = v.was
             RETURNING 1)
              SELECT count(*)::int AS n FROM changed`,
    sealed: `SELECT sealed FROM cluster_secrets`,
  },
  // Only finished requests hold a sealed answer; one in progress holds no secret.
  idempotency: {
    keyColumns: 2,
    page: `SELECT ARRAY[principal, idempotency_key] AS id, response_body->>'sealed' AS sealed,
                  principal || '/' || idempotency_key AS "associatedData"
             FROM idempotency_records
            WHERE ($1::text IS NULL OR (principal, idempotency_key) > ($1::text, $2::text))
              AND response_body->>'sealed' IS NOT NULL AND response_body->>'sealed' NOT LIKE $3
            ORDER BY principal, idempotency_key
            LIMIT $4`,
    replace: `WITH changed AS (
                UPDATE idempotency_records r
                   SET response_body = jsonb_set(r.response_body, '{sealed}', to_jsonb(v.sealed))
                  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(principal, key, was, sealed)
                 WHERE r.principal = v.principal AND r.idempotency_key = v.key
                   AND r.response_body->>'sealed' = v.was
             RETURNING 1)
              SELECT count(*)::int AS n FROM changed`,
    sealed: `SELECT response_body->>'sealed' AS sealed FROM idempotency_records
              WHERE response_body->>'sealed' IS NOT NULL`,
  },
};

/** Not taken anywhere else: rotations of the secret key run one at a time across every process. */
const ROTATION_LOCK = 7_105_002;

/** The sealed columns of every table that has one, read and rewritten for a key rotation. */
@Injectable()
export class SealedSecretsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Runs `work` while holding the rotation lock (a transaction-scoped advisory lock, held by a
   * transaction that does nothing else); undefined, without running it, when another holds it.
   */
  async exclusively<T>(work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    return this.db.transaction(async (tx) => {
      const [{ locked }] = (await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [ROTATION_LOCK])) as {
        locked: boolean;
      }[];
      if (!locked) return { ran: false as const };
      return { ran: true as const, value: await work() };
    });
  }

  /** Up to `limit` rows after `after` (in key order) whose secret is not sealed under `currentKeyId`. */
  async page(
    table: SealedTable,
    currentKeyId: string,
    after: string[] | undefined,
    limit: number,
  ): Promise<SealedRow[]> {
    const sql = TABLES[table];
    const cursor = after ?? new Array<null>(sql.keyColumns).fill(null);
    return (await this.db.manager.query(sql.page, [...cursor, `k1.${currentKeyId}.%`, limit])) as SealedRow[];
  }

  /** Writes each new ciphertext where the row still holds the one read; how many rows changed. */
  async replace(table: SealedTable, rows: Resealed[]): Promise<number> {
    if (rows.length === 0) return 0;
    const keyColumns = rows[0].id.map((_, i) => rows.map((r) => r.id[i]));
    const [{ n }] = (await this.db.manager.query(TABLES[table].replace, [
      ...keyColumns,
      rows.map((r) => r.was),
      rows.map((r) => r.sealed),
    ])) as { n: number }[];
    return n;
  }

  /** How many secrets each key id holds; `legacy` for ciphertexts from before key ids. */
  async countByKey(table: SealedTable): Promise<Record<string, number>> {
    const rows = (await this.db.manager.query(
      `SELECT CASE WHEN s.sealed LIKE 'k1.%' THEN split_part(s.sealed, '.', 2) ELSE 'legacy' END AS "keyId",
              count(*)::int AS n
         FROM (${TABLES[table].sealed}) s
        GROUP BY 1`,
    )) as { keyId: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.keyId, r.n]));
  }
}
