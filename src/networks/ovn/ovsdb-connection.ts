import { OVN_NORTHBOUND } from './ovn-nb-tables.js';
import type { NorthboundTransactor } from './ovn-network-controller.js';
import { type CallOptions, OvsdbClient } from './ovsdb-client.js';
import { isOvsdbError, OvsdbError, OvsdbErrorCode } from './ovsdb-error.js';
import type { OvsdbOperation, ResultsOf } from './ovsdb-types.js';

export interface OvsdbConnectionOptions {
  connectTimeoutMs?: number;
  callTimeoutMs?: number;
  /** The database a server must hold to be taken (default OVN_Northbound; OVN_Southbound for the Southbound). */
  database?: string;
}

/**
 * A connection to an OVSDB database (the Northbound by default, or the Southbound) that opens
 * itself when first used and again after it was lost. With
 * several remotes (the servers of a RAFT cluster) it takes the first that answers; any member
 * accepts transactions (a follower hands them to the leader). A call that finds the connection
 * lost fails (its transaction may or may not have been applied: the controller's calls are
 * idempotent, so the caller's retry settles it); the next call connects afresh.
 */
export class OvsdbConnection implements NorthboundTransactor {
  private client: Promise<OvsdbClient> | undefined;
  private readonly remotes: string[];
  private closed = false;
  private next = 0;

  constructor(
    remotes: string,
    private readonly options: OvsdbConnectionOptions = {},
  ) {
    this.remotes = remotes
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);
    if (this.remotes.length === 0) throw new Error('no OVSDB remote given');
  }

  async transact<const Ops extends readonly OvsdbOperation[]>(
    db: string,
    operations: Ops,
    options?: CallOptions,
  ): Promise<ResultsOf<Ops>> {
    const client = await this.connected();
    try {
      return await client.transact(db, operations, options);
    } catch (err) {
      if (client.isClosed || isOvsdbError(err, OvsdbErrorCode.Timeout)) this.drop(client);
      throw err;
    }
  }

  /** Whether the database answers an echo now. */
  async ping(options?: CallOptions): Promise<boolean> {
    try {
      await (await this.connected()).echo([], options);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client) await client.then((c) => c.close()).catch(() => undefined);
  }

  private connected(): Promise<OvsdbClient> {
    if (this.closed) return Promise.reject(new OvsdbError(OvsdbErrorCode.ConnectionClosed, 'OVSDB connection closed'));
    if (!this.client) {
      const attempt = this.open();
      this.client = attempt;
      attempt.then(
        (c) => void c.closed.then(() => this.drop(c)),
        () => {
          if (this.client === attempt) this.client = undefined;
        },
      );
    }
    return this.client;
  }

  private async open(): Promise<OvsdbClient> {
    let last: unknown;
    for (let i = 0; i < this.remotes.length; i++) {
      const remote = this.remotes[(this.next + i) % this.remotes.length];
      try {
        const client = await OvsdbClient.connect(remote, {
          connectTimeoutMs: this.options.connectTimeoutMs ?? 5000,
          callTimeoutMs: this.options.callTimeoutMs ?? 10_000,
        });
        // A server that answers but does not hold the Northbound database is not one.
        const database = this.options.database ?? OVN_NORTHBOUND;
        const dbs = await client.listDbs();
        if (!dbs.includes(database)) {
          await client.close();
          throw new OvsdbError(OvsdbErrorCode.RequestFailed, `${remote} has no ${database} database`);
        }
        this.next = (this.next + i) % this.remotes.length;
        return client;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  private drop(client: OvsdbClient): void {
    void this.client?.then((c) => {
      if (c === client) this.client = undefined;
    });
    if (!client.isClosed) void client.close().catch(() => undefined);
    // The next connection starts with the following remote: the one lost may be the one down.
    this.next = (this.next + 1) % this.remotes.length;
  }
}
