import { Injectable } from '@nestjs/common';
import type { Tx } from './database.js';
import { requestContext } from './request-context.js';

/**
 * Creates that happen once per Idempotency-Key. A create writes which resource it made into the
 * request's idempotency record, in the transaction that makes it; a retry of a request whose
 * attempt died after that commit (the API process killed, the database gone before the answer
 * was stored) finds the resource there and answers with it instead of making a second one.
 * The mark lives in `response_body` while the record is in progress; the stored answer replaces it.
 */
@Injectable()
export class IdempotencyEffects {
  /** The id of the `kind` resource an earlier attempt of this request created, if any. */
  async previous(tx: Tx, kind: string): Promise<string | undefined> {
    const held = requestContext.getStore()?.idempotency;
    if (!held) return undefined;
    const rows: { id: string }[] = await tx.query(
      `SELECT response_body->'effect'->>'id' AS id FROM idempotency_records
        WHERE principal = $1 AND idempotency_key = $2 AND status_code IS NULL
          AND response_body->'effect'->>'kind' = $3`,
      [held.principal, held.key, kind],
    );
    return rows[0]?.id;
  }

  /** Marks, in the creating transaction, that this request made the resource. */
  async record(tx: Tx, kind: string, id: string): Promise<void> {
    const held = requestContext.getStore()?.idempotency;
    if (!held) return;
    await tx.query(
      `UPDATE idempotency_records
          SET response_body = jsonb_build_object('effect', jsonb_build_object('kind', $3::text, 'id', $4::text))
        WHERE principal = $1 AND idempotency_key = $2 AND status_code IS NULL`,
      [held.principal, held.key, kind, id],
    );
  }
}
