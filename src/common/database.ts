import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** An open transaction (or the plain manager outside one), handed to repository methods. */
export type Tx = EntityManager;

/** The one place services get transactions from, so services never import TypeORM. */
@Injectable()
export class Database {
  constructor(readonly dataSource: DataSource) {}

  get manager(): Tx {
    return this.dataSource.manager;
  }

  /**
   * A READ COMMITTED transaction: every connection is opened with that default
   * (data-source.ts), so no statement per transaction has to say so.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}

/** Postgres unique_violation, for turning races on unique names into 409s. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e?.driverError?.code ?? e?.code;
  const name = e?.driverError?.constraint ?? e?.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
}
