import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource, QueryRunner } from 'typeorm';

/** One statement sent while counting: its text, and where in src/ it was sent from (innermost first). */
export interface CountedQuery {
  sql: string;
  sites: string[];
}

const ROOT = join(import.meta.dirname, '..', '..');
const OURS = new Map<string, boolean>();
/** Whether a path of a stack frame is a file of the project's src/ (a library's mapped sources say src/ too). */
const isOurs = (path: string) => OURS.get(path) ?? OURS.set(path, existsSync(join(ROOT, path))).get(path)!;

/** Frames of src/ (not of the database plumbing every query passes through) in a stack. */
function sourceSites(stack: string | undefined, depth: number): string[] {
  const sites: string[] = [];
  for (const line of (stack ?? '').split('\n')) {
    const m = /(?:^|[\s(/])(src\/[^\s():]+\.ts):(\d+)/.exec(line);
    if (!m || !isOurs(m[1]) || m[1] === 'src/common/database.ts') continue;
    const site = `${m[1]}:${m[2]}`;
    if (sites.at(-1) !== site) sites.push(site);
    if (sites.length === depth) break;
  }
  return sites;
}

/**
 * Counts the statements a DataSource sends, at the client: every query TypeORM runs (finds,
 * saves, raw queries, BEGIN and COMMIT) is one call of a query runner's `query`, and every query
 * runner comes from the driver's `createQueryRunner` (runners made before the counter are not
 * seen). Counting starts with `start()`; `stop()` freezes the count. `where` narrows it, e.g. to
 * what one API request caused (its request id travels into the jobs it queues). With `sites`,
 * each query also records the src/ frames of its (async) stack, to tell which code paths send it.
 */
export class QueryCounter {
  readonly queries: CountedQuery[] = [];
  private counting = false;
  private readonly restore: () => void;

  constructor(
    dataSource: DataSource,
    private readonly options: {
      /** How many src/ frames of each query to keep (0, the default: none). */
      sites?: number;
      /** Which queries count (all by default), asked as each is sent: e.g. those of one request. */
      where?: () => boolean;
    } = {},
  ) {
    // Each query is seen as it is called, while its caller's frames are still on the stack.
    const driver = dataSource.driver;
    const original = driver.createQueryRunner;
    driver.createQueryRunner = (mode) => {
      const runner = original.call(driver, mode);
      // Where the runner was made: the caller of a query sent after an await inside the library
      // (an insert's, say) is on this stack, not on the query's own.
      const madeAt = this.counting ? this.sites() : [];
      const query = runner.query;
      runner.query = ((...args: Parameters<QueryRunner['query']>) => {
        if (this.counting && (this.options.where?.() ?? true)) {
          const sites = this.sites();
          this.queries.push({ sql: args[0], sites: sites.length ? sites : madeAt });
        }
        return query.apply(runner, args);
      }) as QueryRunner['query'];
      return runner;
    };
    this.restore = () => {
      driver.createQueryRunner = original;
    };
  }

  private sites(): string[] {
    const depth = this.options.sites ?? 0;
    if (depth === 0) return [];
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 80;
    const stack = new Error().stack;
    Error.stackTraceLimit = limit;
    return sourceSites(stack, depth);
  }

  start(): void {
    this.counting = true;
  }

  stop(): number {
    this.counting = false;
    return this.queries.length;
  }

  get count(): number {
    return this.queries.length;
  }

  /** The driver back as it was. */
  detach(): void {
    this.counting = false;
    this.restore();
  }
}

/** Statements grouped by a key, most frequent first. */
export function tally<T>(items: T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** A statement's shape: whitespace folded, parameters and literals out, the long column lists cut. */
export function statementShape(sql: string, width = 110): string {
  const folded = sql
    .replace(/\s+/g, ' ')
    .replace(/\$\d+/g, '$')
    .replace(/'[^']*'/g, "'…'")
    .replace(/SELECT (DISTINCT )?("[^"]+"\."[^"]+" AS "[^"]+", )+("[^"]+"\."[^"]+" AS "[^"]+")/g, 'SELECT $1…')
    .trim();
  return folded.length > width ? `${folded.slice(0, width - 1)}…` : folded;
}
