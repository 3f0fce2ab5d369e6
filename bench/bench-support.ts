import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { apiMetrics, type BenchPlatform, type MetricSample, processStats, workerMetrics } from './bench-processes.js';

export const RESULTS_DIR = join(import.meta.dirname, '..', '..', 'bench', 'results');

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** The 1, 5 and 15 minute load averages, rounded, and the number of CPUs. */
export function machineLoad(): { loadAvg: number[]; cpus: number } {
  return {
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100),
    cpus: readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 0,
  };
}

/** Prints the figures and writes them to bench/results/NAME.json, with the machine's load at the end. */
export function report(name: string, figures: Record<string, unknown>): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const doc = {
    benchmark: name,
    at: new Date().toISOString(),
    machine: machineLoad(),
    ...figures,
  };
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`${name}: ${JSON.stringify(figures)}`);
}

export interface RouteSummary {
  requests: number;
  /** Answers by HTTP status, and `network` for requests that got none. */
  byStatus: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Requests by route (method and route template): how many, their statuses and their latencies. */
export class RouteStats {
  private readonly routes = new Map<string, { byStatus: Record<string, number>; latencies: number[] }>();

  add(route: string, status: number | 'network', ms: number): void {
    let r = this.routes.get(route);
    if (!r) this.routes.set(route, (r = { byStatus: {}, latencies: [] }));
    r.byStatus[status] = (r.byStatus[status] ?? 0) + 1;
    r.latencies.push(ms);
  }

  get requests(): number {
    let n = 0;
    for (const r of this.routes.values()) n += r.latencies.length;
    return n;
  }

  summary(): Record<string, RouteSummary> {
    const round = (x: number) => Math.round(x * 10) / 10;
    return Object.fromEntries(
      [...this.routes.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([route, r]) => [
          route,
          {
            requests: r.latencies.length,
            byStatus: r.byStatus,
            p50Ms: round(percentile(r.latencies, 50)),
            p99Ms: round(percentile(r.latencies, 99)),
            maxMs: round(r.latencies.reduce((a, b) => Math.max(a, b), 0)),
          },
        ]),
    );
  }
}

/**
 * The name a benchmark's own statements carry (as a column alias, which pg_stat_statements keeps
 * in a statement's text where it replaces constants): they are left out of the platform's count.
 */
export const BENCH_TAG = 'kaas_bench';

/** What pg_stat_statements holds of one statement (one queryid) of one database. */
export interface StatementStats {
  queryId: string;
  /** The normalized text: constants replaced by $1, $2, ... */
  query: string;
  calls: number;
  rows: number;
  totalMs: number;
}

/**
 * Makes pg_stat_statements readable in the client's database. Resolves with why it is not
 * available (the server did not preload the library: `scripts/services.sh` starts PostgreSQL with
 * it, one started before keeps running without it until it is restarted), or undefined.
 */
export async function enableStatementStats(db: pg.Client): Promise<string | undefined> {
  const preload = String((await db.query(`SHOW shared_preload_libraries`)).rows[0].shared_preload_libraries);
  if (!preload.split(',').some((l) => l.trim() === 'pg_stat_statements'))
    return 'PostgreSQL runs without pg_stat_statements (shared_preload_libraries): restart it with scripts/services.sh down, then up';
  await db.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
  return undefined;
}

/** Every statement pg_stat_statements counted so far in the client's database, but the benchmark's own. */
export async function statementStats(db: pg.Client): Promise<Map<string, StatementStats>> {
  const { rows } = await db.query(
    `SELECT queryid::text AS "queryId", query, calls::float8 AS calls, rows::float8 AS rows,
            total_exec_time AS "totalMs", 1 AS ${BENCH_TAG}
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query NOT LIKE '%${BENCH_TAG}%'`,
  );
  const stats = new Map<string, StatementStats>();
  for (const r of rows as StatementStats[]) {
    // One queryid may show once per user and top-level flag: they add up.
    const had = stats.get(r.queryId);
    if (had)
      Object.assign(had, { calls: had.calls + r.calls, rows: had.rows + r.rows, totalMs: had.totalMs + r.totalMs });
    else stats.set(r.queryId, { ...r });
  }
  return stats;
}

/** The statements run between two readings of statementStats, most called first. */
export function statementsBetween(
  before: Map<string, StatementStats>,
  after: Map<string, StatementStats>,
): StatementStats[] {
  const out: StatementStats[] = [];
  for (const [id, a] of after) {
    const b = before.get(id);
    const calls = a.calls - (b?.calls ?? 0);
    if (calls > 0) out.push({ ...a, calls, rows: a.rows - (b?.rows ?? 0), totalMs: a.totalMs - (b?.totalMs ?? 0) });
  }
  return out.sort((x, y) => y.calls - x.calls);
}

/** A statement on one line: whitespace folded, long column lists cut, at most `width` characters. */
export function shortStatement(sql: string, width = 120): string {
  const folded = sql
    .replace(/\s+/g, ' ')
    .replace(/SELECT (DISTINCT )?("[^"]+"\."[^"]+" AS "[^"]+", )+("[^"]+"\."[^"]+" AS "[^"]+")/g, 'SELECT $1…')
    .trim();
  return folded.length > width ? `${folded.slice(0, width - 1)}…` : folded;
}

/** Calls per command so far, from Redis's INFO commandstats (the whole server's). */
export async function redisCommandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  return new Map([...info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

/** CPU-seconds the Redis server has used so far (INFO cpu: user and system). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** The growth of each count between two readings (keys that did not grow are left out), largest first. */
export function countsBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  return Object.fromEntries(
    [...after]
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  );
}

/**
 * The CPU time of one database's PostgreSQL backends, from /proc (a backend's title names its
 * database). A backend's time goes with it when it ends (a pool closes idle connections), so
 * `sample()` is called often: one that ends between two samples counts as of the last one.
 */
export class DatabaseBackendsCpu {
  private readonly baseline = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private started = false;

  /** `exceptPid`: a backend left out (the benchmark's own connection). */
  constructor(
    private readonly database: string,
    private readonly exceptPid?: number,
  ) {}

  sample(): void {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid === this.exceptPid) continue;
      try {
        const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!title.startsWith('postgres: ') || !title.includes(` ${this.database} `)) continue;
        const cpu = processStats(pid).cpuSeconds;
        // Present at the first sample: only what it uses from then on counts.
        if (!this.started) this.baseline.set(pid, cpu);
        this.last.set(pid, cpu);
      } catch {
        // Gone meanwhile.
      }
    }
    this.started = true;
  }

  /** CPU-seconds since the first sample, as of the last. */
  get seconds(): number {
    let total = 0;
    for (const [pid, cpu] of this.last) total += cpu - (this.baseline.get(pid) ?? 0);
    return total;
  }
}

/** What the bill is computed from: counters of every kind, read at once. */
export interface BillReading {
  statements?: Map<string, StatementStats>;
  redisCalls: Map<string, number>;
  /** The API's and the workers' /metrics: jobs, hypervisor calls, Northbound transactions. */
  samples: MetricSample[];
  /** CPU-seconds so far of each process, and of the run's PostgreSQL backends since the first reading. */
  cpu: {
    api: number;
    workers: number[];
    northbound: number;
    postgresBackends: number;
    redis: number;
    hypervisors?: number;
  };
}

/**
 * Reads every counter. Its own side effects stay outside the measured window: at the start the
 * scrapes (which send queries and Redis commands) come first and the statements last; at the end
 * the statements come first and the scrapes last.
 */
export async function readBill(
  p: BenchPlatform,
  db: pg.Client,
  redis: Redis,
  backends: DatabaseBackendsCpu,
  statementsOn: boolean,
  at: 'start' | 'end',
): Promise<BillReading> {
  const scrape = async () =>
    (await Promise.all([apiMetrics(p), ...p.workers.map((_, i) => workerMetrics(p, i))])).flat();
  const samples = at === 'start' ? await scrape() : [];
  const statements = statementsOn ? await statementStats(db) : undefined;
  backends.sample();
  const redisCalls = await redisCommandCalls(redis);
  const cpu = {
    api: processStats(p.api.child.pid!).cpuSeconds,
    workers: p.workers.map((w) => processStats(w.child.pid!).cpuSeconds),
    northbound: p.northbound ? processStats(p.northbound.pid).cpuSeconds : 0,
    postgresBackends: backends.seconds,
    redis: await redisCpuSeconds(redis),
    ...(p.hypervisorPids.length
      ? { hypervisors: p.hypervisorPids.reduce((a, pid) => a + processStats(pid).cpuSeconds, 0) }
      : {}),
  };
  return { statements, redisCalls, samples: at === 'end' ? await scrape() : samples, cpu };
}

/** Sums of the `_count` samples of a histogram, by the value of one label. */
function histogramCounts(samples: MetricSample[], histogram: string, label: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of samples)
    if (s.name === `${histogram}_count`) counts.set(s.labels[label], (counts.get(s.labels[label]) ?? 0) + s.value);
  return counts;
}

function jobCounts(samples: MetricSample[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of samples)
    if (s.name === 'kaas_job_duration_seconds_count') {
      const key = `${s.labels.queue}/${s.labels.job_name}`;
      counts.set(key, (counts.get(key) ?? 0) + s.value);
    }
  return counts;
}

/** The bill of the window between two readings: totals, and per node. */
export function billBetween(
  a: BillReading,
  b: BillReading,
  run: {
    nodes: number;
    /** What the window spans. */
    window: string;
    /** Why there is no count of queries, when there is none. */
    statementsOff?: string;
    /** Whether Redis served this run alone (otherwise its counts are the whole server's). */
    ownRedis: boolean;
  },
) {
  const { nodes, window, statementsOff } = run;
  const perNode = (x: number, digits = 2) => round(x / nodes, digits);
  const sum = (o: Record<string, number>) => Object.values(o).reduce((x, y) => x + y, 0);
  const perNodeOf = (o: Record<string, number>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, perNode(v, 3)]));
  const statements = a.statements && b.statements ? statementsBetween(a.statements, b.statements) : undefined;
  const calls = statements?.reduce((x, st) => x + st.calls, 0);
  const execMs = statements?.reduce((x, st) => x + st.totalMs, 0);
  const jobs = countsBetween(jobCounts(a.samples), jobCounts(b.samples));
  const redis = countsBetween(a.redisCalls, b.redisCalls);
  const hypervisor = countsBetween(
    histogramCounts(a.samples, 'kaas_hypervisor_call_seconds', 'operation'),
    histogramCounts(b.samples, 'kaas_hypervisor_call_seconds', 'operation'),
  );
  const northbound = countsBetween(
    histogramCounts(a.samples, 'kaas_ovn_transaction_seconds', 'outcome'),
    histogramCounts(b.samples, 'kaas_ovn_transaction_seconds', 'outcome'),
  );
  const cpu = {
    api: b.cpu.api - a.cpu.api,
    workers: b.cpu.workers.reduce((x, w, i) => x + w - a.cpu.workers[i], 0),
    postgresBackends: b.cpu.postgresBackends - a.cpu.postgresBackends,
    redis: b.cpu.redis - a.cpu.redis,
    northbound: b.cpu.northbound - a.cpu.northbound,
    ...(b.cpu.hypervisors !== undefined ? { hypervisors: b.cpu.hypervisors - (a.cpu.hypervisors ?? 0) } : {}),
  };
  return {
    nodes,
    window,
    perNode: {
      queries: calls === undefined ? null : perNode(calls, 1),
      queryExecMs: execMs === undefined ? null : perNode(execMs, 2),
      jobs: perNode(sum(jobs), 2),
      redisCommands: perNode(sum(redis), 1),
      hypervisorCalls: perNode(sum(hypervisor), 2),
      northboundTransactions: perNode(sum(northbound), 2),
      cpuMs: { ...Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, perNode(v * 1000, 1)])) },
      cpuMsAll: perNode(sum(cpu) * 1000, 1),
    },
    perNodeBy: {
      jobs: perNodeOf(jobs),
      redisCommands: perNodeOf(redis),
      hypervisorCalls: perNodeOf(hypervisor),
      northboundTransactions: perNodeOf(northbound),
    },
    totals: {
      queries: calls ?? null,
      jobs,
      redisCommands: redis,
      hypervisorCalls: hypervisor,
      northbound,
      cpuSeconds: cpu,
    },
    queriesUnavailable: statementsOff ?? null,
    redis: run.ownRedis ? "the run's own server" : 'the shared server: whatever else used it meanwhile counts too',
    topStatements: (statements ?? []).slice(0, 15).map((st) => ({
      callsPerNode: perNode(st.calls, 2),
      calls: st.calls,
      msPerCall: round(st.totalMs / st.calls, 3),
      rowsPerCall: round(st.rows / st.calls, 2),
      statement: shortStatement(st.query),
    })),
  };
}

/** Prints a bill: per node, one line per kind with its largest parts, then the top statements. */
export function printBill(bill: Bill): void {
  const n = bill.perNode;
  const top = (o: Record<string, number>, k = 8) =>
    Object.entries(o)
      .slice(0, k)
      .map(([name, v]) => `${name} ${v}`)
      .join(', ');
  const lines = [
    `bill per node (${bill.nodes} nodes, ${bill.window}):`,
    `  queries            ${n.queries ?? `n/a (${bill.queriesUnavailable})`}${n.queryExecMs === null ? '' : ` (${n.queryExecMs} ms executing)`}`,
    `  jobs               ${n.jobs}: ${top(bill.perNodeBy.jobs)}`,
    `  Redis commands     ${n.redisCommands} (${bill.redis}): ${top(bill.perNodeBy.redisCommands)}`,
    `  hypervisor calls   ${n.hypervisorCalls}: ${top(bill.perNodeBy.hypervisorCalls, 10)}`,
    `  Northbound txns    ${n.northboundTransactions}: ${top(bill.perNodeBy.northboundTransactions)}`,
    `  CPU ms             ${n.cpuMsAll}: ${top(n.cpuMs)}`,
  ];
  if (bill.topStatements.length) {
    lines.push('  top statements by calls: calls/node  ms/call  rows/call  statement');
    for (const st of bill.topStatements)
      lines.push(
        `    ${String(st.callsPerNode).padStart(8)}  ${String(st.msPerCall).padStart(7)}  ${String(st.rowsPerCall).padStart(8)}  ${st.statement}`,
      );
  }
  console.log(lines.join('\n'));
}

export type Bill = ReturnType<typeof billBetween>;
