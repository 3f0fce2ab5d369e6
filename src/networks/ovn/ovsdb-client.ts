import { createConnection, type Socket } from 'node:net';
import { JsonStreamError, JsonStreamSplitter } from './json-stream-splitter.js';
import { OvsdbError, OvsdbErrorCode } from './ovsdb-error.js';
import { formatOvsdbRemote, type OvsdbRemote, parseOvsdbRemote } from './ovsdb-remote.js';
import { isDatabaseSchema, type OvsdbDatabaseSchema } from './ovsdb-schema.js';
import type { OvsdbOperation, ResultsOf } from './ovsdb-types.js';
import {
  checkTransactionResult,
  isTableUpdates,
  requestFailed,
  type TableUpdates,
  unexpectedAnswer,
} from './ovsdb-answers.js';

export type { RowUpdate, TableUpdates } from './ovsdb-answers.js';

export const DEFAULT_CALL_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Well above a full OVN Northbound dump of a large deployment, well below a memory problem. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface OvsdbClientOptions {
  /** Deadline of each call that does not set its own. */
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** A larger message from the server closes the connection with MESSAGE_TOO_LARGE. */
  maxMessageBytes?: number;
}

export interface CallOptions {
  timeoutMs?: number;
}

/** What one `monitor` request asks for in one table (RFC 7047 §4.1.5). */
export interface MonitorRequest {
  columns?: string[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}
export type MonitorRequests = Record<string, MonitorRequest | MonitorRequest[]>;

export interface OvsdbMonitor {
  readonly id: string;
  /** The contents when the monitor started (also passed to the callback first). */
  readonly initial: TableUpdates;
  cancel(options?: CallOptions): Promise<void>;
}

interface PendingCall {
  method: string;
  timer: NodeJS.Timeout;
  resolve(result: unknown): void;
  reject(err: OvsdbError): void;
}

type JsonRpcId = string | number | null;

/**
 * A client of one OVSDB server connection: JSON-RPC 1.0 as RFC 7047 uses it, over a unix socket
 * or TCP. It answers the server's inactivity probes (`echo`), gives every call a deadline, and
 * fails every outstanding call once the connection is gone; it does not reconnect, which is
 * left to the owner, who also has to resynchronise what it monitors (see `closed`).
 */
export class OvsdbClient {
  /** Settles, never rejects, once the connection is closed, with why. */
  readonly closed: Promise<OvsdbError>;
  private readonly pending = new Map<number, PendingCall>();
  private readonly monitors = new Map<string, (updates: TableUpdates) => void>();
  private readonly splitter: JsonStreamSplitter;
  private readonly socketClosed: Promise<void>;
  private nextCallId = 1;
  private nextMonitorId = 1;
  private closeReason: OvsdbError | undefined;
  private socketError: Error | undefined;
  private settleClosed!: (reason: OvsdbError) => void;

  private constructor(
    private readonly socket: Socket,
    /** The remote as given to `connect`, for messages. */
    readonly remote: string,
    private readonly callTimeoutMs: number,
    maxMessageBytes: number,
  ) {
    this.splitter = new JsonStreamSplitter(maxMessageBytes);
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => (this.socketError ??= err));
    socket.on('close', () => {
      const cause = this.socketError;
      const why = cause ? `connection to ${remote} lost: ${cause.message}` : `connection closed by ${remote}`;
      this.fail(new OvsdbError(OvsdbErrorCode.ConnectionClosed, why, { cause }));
    });
  }

  static async connect(remote: string, options: OvsdbClientOptions = {}): Promise<OvsdbClient> {
    const parsed = parseOvsdbRemote(remote);
    const callTimeoutMs = positive('callTimeoutMs', options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const socket = await openSocket(parsed, connectTimeoutMs);
    return new OvsdbClient(socket, remote, callTimeoutMs, maxMessageBytes);
  }

  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  async listDbs(options?: CallOptions): Promise<string[]> {
    const result = await this.request('list_dbs', [], options);
    if (!Array.isArray(result) || !result.every((db) => typeof db === 'string')) {
      throw unexpectedAnswer('list_dbs', result);
    }
    return result;
  }

  async getSchema(db: string, options?: CallOptions): Promise<OvsdbDatabaseSchema> {
    const result = await this.request('get_schema', [db], options);
    if (!isDatabaseSchema(result)) throw unexpectedAnswer('get_schema', result);
    return result;
  }

  /**
   * Runs the operations as one transaction and returns their results in order. Throws
   * TRANSACTION_FAILED when an operation or the commit failed: the server then applied none of
   * them (RFC 7047 §4.1.3), so the caller may retry the whole transaction.
   */
  async transact<const Ops extends readonly OvsdbOperation[]>(
    db: string,
    operations: Ops,
    options?: CallOptions,
  ): Promise<ResultsOf<Ops>> {
    const result = await this.request('transact', [db, ...operations], options);
    return checkTransactionResult(db, operations, result) as ResultsOf<Ops>;
  }

  /** Asks the server to send `payload` back: a liveness check with a round trip. */
  async echo(payload: unknown[] = [], options?: CallOptions): Promise<unknown[]> {
    const result = await this.request('echo', payload, options);
    if (!Array.isArray(result)) throw unexpectedAnswer('echo', result);
    return result;
  }

  /**
   * Starts a monitor. `onUpdate` gets the initial contents first and then every change, in the
   * order the server sent them, synchronously as they are read: everything arrives through the
   * one callback, so nothing can slip in between the initial contents and the first update. If
   * the callback throws, the connection is closed (CALLBACK_FAILED): the consumer has missed a
   * change and must start over on a new connection.
   */
  async monitor(
    db: string,
    requests: MonitorRequests,
    onUpdate: (updates: TableUpdates) => void,
    options?: CallOptions,
  ): Promise<OvsdbMonitor> {
    const id = `monitor-${this.nextMonitorId++}`;
    this.monitors.set(id, onUpdate);
    let initial: TableUpdates;
    try {
      initial = (await this.call('monitor', [db, id, requests], options, (result) => {
        if (!isTableUpdates(result)) throw unexpectedAnswer('monitor', result);
        const failure = this.deliver(id, result);
        if (failure) throw failure;
      })) as TableUpdates;
    } catch (err) {
      this.monitors.delete(id);
      throw err;
    }
    return {
      id,
      initial,
      cancel: async (cancelOptions?: CallOptions) => {
        // Forget the callback first: whatever arrives after the caller asked to stop is unwanted.
        if (!this.monitors.delete(id)) return;
        await this.request('monitor_cancel', [id], cancelOptions);
      },
    };
  }

  /** Sends any JSON-RPC request and returns its `result`, for methods without a helper here. */
  request(method: string, params: unknown[], options?: CallOptions): Promise<unknown> {
    return this.call(method, params, options);
  }

  /** Closes the connection; outstanding calls fail with CONNECTION_CLOSED. Safe to call twice. */
  async close(): Promise<void> {
    this.fail(new OvsdbError(OvsdbErrorCode.ConnectionClosed, `connection to ${this.remote} closed by the client`));
    await this.socketClosed;
  }

  /**
   * `onAnswer` runs synchronously when the answer is read, before any later message is handled;
   * a throw from it rejects the call.
   */
  private call(
    method: string,
    params: unknown[],
    options: CallOptions = {},
    onAnswer?: (result: unknown) => void,
  ): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = positive('timeoutMs', options.timeoutMs ?? this.callTimeoutMs);
      if (this.closeReason) {
        reject(this.callError(method, this.closeReason));
        return;
      }
      const id = this.nextCallId++;
      const timer = setTimeout(() => {
        // A late answer finds no pending call and is dropped.
        this.pending.delete(id);
        reject(
          new OvsdbError(
            OvsdbErrorCode.Timeout,
            `${method}: no answer from ${this.remote} within ${timeoutMs} ms` +
              (method === 'transact' ? ' (whether the transaction was applied is unknown)' : ''),
            { method },
          ),
        );
      }, timeoutMs);
      const settle = (result: unknown) => {
        try {
          onAnswer?.(result);
        } catch (err) {
          reject(err instanceof OvsdbError ? err : this.callError(method, err));
          return;
        }
        resolve(result);
      };
      this.pending.set(id, { method, timer, resolve: settle, reject });
      this.send({ method, params, id });
    });
  }

  private send(message: object): void {
    this.socket.write(JSON.stringify(message));
  }

  private onData(chunk: Buffer): void {
    if (this.closeReason) return;
    let messages: unknown[];
    try {
      messages = this.splitter.push(chunk);
    } catch (err) {
      const tooLarge = err instanceof JsonStreamError && err.reason === 'too-large';
      const code = tooLarge ? OvsdbErrorCode.MessageTooLarge : OvsdbErrorCode.Protocol;
      this.fail(new OvsdbError(code, `${this.remote}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    for (const message of messages) {
      if (this.closeReason) return;
      this.onMessage(message);
    }
  }

  private onMessage(message: unknown): void {
    // The splitter only passes objects on.
    const m = message as Record<string, unknown>;
    const id = m['id'] as JsonRpcId | undefined;
    if (typeof m['method'] === 'string') {
      if (id === null || id === undefined) this.onNotification(m['method'], m['params']);
      else this.onServerRequest(id, m['method'], m['params']);
      return;
    }
    // Unknown ids are answers that came after their call's deadline: nobody waits for them.
    const call = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!call || typeof id !== 'number') return;
    this.pending.delete(id);
    clearTimeout(call.timer);
    const error = m['error'];
    if (error === null || error === undefined) call.resolve(m['result']);
    else call.reject(requestFailed(call.method, error));
  }

  private onServerRequest(id: string | number, method: string, params: unknown): void {
    // ovsdb-server probes an idle TCP session with echo and drops it if no answer comes.
    if (method === 'echo') this.send({ id, result: Array.isArray(params) ? params : [], error: null });
    else this.send({ id, result: null, error: { error: 'unknown method', details: method } });
  }

  private onNotification(method: string, params: unknown): void {
    if (method !== 'update' || !Array.isArray(params) || params.length !== 2) return;
    const [id, updates] = params as [unknown, unknown];
    if (typeof id !== 'string' || !this.monitors.has(id)) return;
    if (!isTableUpdates(updates)) {
      this.fail(new OvsdbError(OvsdbErrorCode.Protocol, `${this.remote} sent a malformed update for ${id}`));
      return;
    }
    this.deliver(id, updates);
  }

  /** Hands updates to a monitor's callback; returns the failure if it threw (and closes). */
  private deliver(id: string, updates: TableUpdates): OvsdbError | undefined {
    const onUpdate = this.monitors.get(id);
    if (!onUpdate) return undefined;
    try {
      onUpdate(updates);
      return undefined;
    } catch (err) {
      const failure = new OvsdbError(
        OvsdbErrorCode.CallbackFailed,
        `the update callback of ${id} threw: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
      this.fail(failure);
      return failure;
    }
  }

  private fail(reason: OvsdbError): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.monitors.clear();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) {
      clearTimeout(call.timer);
      call.reject(this.callError(call.method, reason));
    }
    this.socket.destroy();
    this.settleClosed(reason);
  }

  /** The connection's failure as seen by one call: same code and cause, the method named. */
  private callError(method: string, reason: unknown): OvsdbError {
    if (reason instanceof OvsdbError) {
      return new OvsdbError(reason.code, `${method}: ${reason.message}`, { method, cause: reason.cause ?? reason });
    }
    return new OvsdbError(
      OvsdbErrorCode.Protocol,
      `${method}: ${reason instanceof Error ? reason.message : String(reason)}`,
      {
        method,
        cause: reason,
      },
    );
  }
}

function openSocket(remote: OvsdbRemote, timeoutMs: number): Promise<Socket> {
  const where = formatOvsdbRemote(remote);
  return new Promise((resolve, reject) => {
    const socket =
      remote.kind === 'unix' ? createConnection({ path: remote.path }) : createConnection(remote.port, remote.host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OvsdbError(OvsdbErrorCode.ConnectFailed, `could not connect to ${where} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new OvsdbError(OvsdbErrorCode.ConnectFailed, `could not connect to ${where}: ${err.message}`, { cause: err }),
      );
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // Requests are small and answered one by one; Nagle would only add latency.
      if (remote.kind === 'tcp') socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, not ${value}`);
  return value;
}
