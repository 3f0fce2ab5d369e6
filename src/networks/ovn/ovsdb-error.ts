export const OvsdbErrorCode = {
  /** An operation of a transaction, or its commit, failed; nothing of the transaction was applied. */
  TransactionFailed: 'TRANSACTION_FAILED',
  /** The server answered the call with a JSON-RPC error (say, an unknown database). */
  RequestFailed: 'REQUEST_FAILED',
  /** No answer within the call's deadline. For a transaction, whether it was applied is unknown. */
  Timeout: 'TIMEOUT',
  /** The connection closed (either side) before the answer came. */
  ConnectionClosed: 'CONNECTION_CLOSED',
  /** The socket could not be opened. */
  ConnectFailed: 'CONNECT_FAILED',
  /** The server sent a message over the size limit; the connection was closed. */
  MessageTooLarge: 'MESSAGE_TOO_LARGE',
  /** The server sent something that is not JSON-RPC as OVSDB speaks it; the connection was closed. */
  Protocol: 'PROTOCOL',
  /** A monitor's update callback threw; the connection was closed since the consumer is out of step. */
  CallbackFailed: 'CALLBACK_FAILED',
  /** The remote is not `unix:<path>` or `tcp:<host>:<port>`. */
  InvalidRemote: 'INVALID_REMOTE',
} as const;
export type OvsdbErrorCode = (typeof OvsdbErrorCode)[keyof typeof OvsdbErrorCode];

export interface OvsdbErrorFields {
  /** The JSON-RPC method of the call that failed, when the error belongs to one call. */
  method?: string;
  /** The server's error string, e.g. "constraint violation" (RFC 7047 §3.1 and §5.2). */
  error?: string;
  /** The server's explanation. */
  details?: string;
  /** The part of the request the server objected to, when it says. */
  syntax?: string;
  /**
   * Index of the failed operation in the transaction; equal to the number of operations when
   * every operation succeeded but the commit failed (a referential integrity or index check).
   */
  operationIndex?: number;
  /** The failed operation's `op` (e.g. "insert"), or "commit". */
  operation?: string;
  cause?: unknown;
}

/** Every failure of the OVSDB client, told apart by `code`. */
export class OvsdbError extends Error {
  override readonly name = 'OvsdbError';
  readonly method?: string;
  readonly error?: string;
  readonly details?: string;
  readonly syntax?: string;
  readonly operationIndex?: number;
  readonly operation?: string;

  constructor(
    readonly code: OvsdbErrorCode,
    message: string,
    fields: OvsdbErrorFields = {},
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.method = fields.method;
    this.error = fields.error;
    this.details = fields.details;
    this.syntax = fields.syntax;
    this.operationIndex = fields.operationIndex;
    this.operation = fields.operation;
  }
}

export function isOvsdbError(err: unknown, ...codes: OvsdbErrorCode[]): err is OvsdbError {
  return err instanceof OvsdbError && (codes.length === 0 || codes.includes(err.code));
}
