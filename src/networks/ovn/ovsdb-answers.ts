import { OvsdbError, OvsdbErrorCode } from './ovsdb-error.js';
import type { OvsdbOperation, OvsdbRow } from './ovsdb-types.js';

/*
 * How the client reads the server's answers: the shape each method's result must have, and the
 * mapping of RFC 7047's error forms to OvsdbError.
 */

/** `old` is absent for an insert, `new` for a delete; a modify carries the changed columns in `old`. */
export interface RowUpdate {
  old?: OvsdbRow;
  new?: OvsdbRow;
}
/** Table name to row UUID to change, as `monitor` answers and `update` notifications carry. */
export type TableUpdates = Record<string, Record<string, RowUpdate>>;

/**
 * Maps a transaction's answer to its results or to the first failure. The server answers with
 * one element per operation, an error object at the failed one and null after it; when every
 * operation succeeded but the commit did not, it appends one more element with that error.
 */
export function checkTransactionResult(db: string, operations: readonly OvsdbOperation[], result: unknown): unknown[] {
  if (!Array.isArray(result)) throw unexpectedAnswer('transact', result);
  const failedAt = result.findIndex((r) => isErrorObject(r));
  if (failedAt >= 0) {
    const failure = result[failedAt] as { error: string; details?: unknown; syntax?: unknown };
    const op = operations[failedAt];
    const where =
      op === undefined ? 'the commit' : `operation ${failedAt} (${op.op}${'table' in op ? ` ${op.table}` : ''})`;
    const details = typeof failure.details === 'string' ? failure.details : undefined;
    throw new OvsdbError(
      OvsdbErrorCode.TransactionFailed,
      `transaction on ${db} failed at ${where}: ${failure.error}${details ? `: ${details}` : ''}`,
      {
        method: 'transact',
        error: failure.error,
        details,
        syntax: typeof failure.syntax === 'string' ? failure.syntax : undefined,
        operationIndex: failedAt,
        operation: op?.op ?? 'commit',
      },
    );
  }
  const missing = operations.findIndex((_, i) => typeof result[i] !== 'object' || result[i] === null);
  if (missing >= 0) {
    throw new OvsdbError(
      OvsdbErrorCode.Protocol,
      `transaction on ${db}: the server answered ${result.length} results for ${operations.length} operations` +
        ` and none for operation ${missing} (whether the transaction was applied is unknown)`,
      { method: 'transact', operationIndex: missing, operation: operations[missing].op },
    );
  }
  return result.slice(0, operations.length);
}

function isErrorObject(value: unknown): value is { error: string } {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string';
}

export function requestFailed(method: string, error: unknown): OvsdbError {
  const e = isErrorObject(error) ? (error as { error: string; details?: unknown; syntax?: unknown }) : undefined;
  const name = e ? e.error : typeof error === 'string' ? error : JSON.stringify(error);
  const details = e && typeof e.details === 'string' ? e.details : undefined;
  return new OvsdbError(OvsdbErrorCode.RequestFailed, `${method}: ${name}${details ? `: ${details}` : ''}`, {
    method,
    error: name,
    details,
    syntax: e && typeof e.syntax === 'string' ? e.syntax : undefined,
  });
}

export function unexpectedAnswer(method: string, result: unknown): OvsdbError {
  const shown = JSON.stringify(result) ?? String(result);
  return new OvsdbError(
    OvsdbErrorCode.Protocol,
    `${method}: unexpected answer ${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}`,
    { method },
  );
}

export function isTableUpdates(value: unknown): value is TableUpdates {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((rows) => typeof rows === 'object' && rows !== null && !Array.isArray(rows));
}
