/**
 * The platform as its operator runs it, for the benchmarks that measure whole processes: the API
 * and worker processes started from the build (dist/), against the PostgreSQL and Redis of
 * `make bench`, with a database and a queue prefix of their own.
 */
import { OVN_NB_SCHEMA, startOvsdbServer } from '../test/support/ovsdb-server.js';
import { type OwnRedis, startOwnRedis } from '../test/support/own-redis.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client } from '../test/support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { freePort, type Proc, randomEnv, waitFor } from '../test/support/processes.js';
import { PLATFORM_NODE_FLAGS } from '../test/support/node-flags.js';

/** The repository (this file runs from dist-bench/bench/). */
const REPO = join(import.meta.dirname, '..', '..');
/** The build whose entry points are started: `make bench` builds dist/ first. */
const BUILD = process.env.KAAS_BENCH_DIST ?? 'dist';
/** Extra node options for the started processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const NODE_ARGS = [...PLATFORM_NODE_FLAGS, ...(process.env.KAAS_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
/** Where to keep the processes' logs (KAAS_BENCH_LOG_LEVEL sets their level; default warn). */
const LOGS_DIR = process.env.KAAS_BENCH_LOGS_DIR;

/**
 * Request limits far above what a benchmark sends (the defaults are 100 requests per second
 * per key and 2,000 per address): every request still takes its tokens from Redis.
 */
export const HIGH_RATE_LIMITS: Record<string, string> = {
  KAAS_RATE_LIMIT_PER_KEY: '1000000',
  KAAS_RATE_LIMIT_PER_KEY_BURST: '10000000',
  KAAS_RATE_LIMIT_PER_ADDRESS: '1000000',
  KAAS_RATE_LIMIT_PER_ADDRESS_BURST: '10000000',
};

export interface ProcessStats {
  /** Peak resident set size over the process's life (VmHWM). */
  peakRssMiB: number;
  rssMiB: number;
  /** User plus system CPU time so far. */
  cpuSeconds: number;
}

/** Memory and CPU time of a live process, from /proc. */
export function processStats(pid: number): ProcessStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  // Fields 14 and 15 of /proc/PID/stat (after the command in parentheses) are utime and stime.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return {
    peakRssMiB: Math.round(kib('VmHWM') / 1024),
    rssMiB: Math.round(kib('VmRSS') / 1024),
    cpuSeconds: Math.round(ticks) / 100,
  };
}

export interface BenchPlatform {
  /** The run's own Northbound database (absent when KAAS_OVN_NB was given). */
  northbound?: { pid: number; writes(): Promise<number> };
  /** The run's own Redis, when asked for (`ownRedis`): what it counts is the run's alone. */
  ownRedis?: OwnRedis;
  db: TestDatabase;
  env: Record<string, string>;
  baseUrl: string;
  admin: Client;
  api: Proc;
  workers: Proc[];
  /** Each worker's own port for /metrics (KAAS_WORKER_PORT), in the order of `workers`. */
  workerPorts: number[];
  /** The processes' data directory. */
  dir: string;
  /**
   * The processes that simulate hosts on their own (libvirtd serving the test driver), when the
   * benchmark started any: their CPU time is part of the bill, as a real host's libvirtd works too.
   */
  hypervisorPids: number[];
  /** Runs `cleanup` when the platform stops, also when the benchmark is interrupted. */
  onStop(cleanup: () => Promise<void>): void;
  stop(): Promise<void>;
}

/** Starts one built entry point from the repository, as `make run` does; output kept in memory. */
function startProcess(entry: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [...NODE_ARGS, join(REPO, BUILD, 'src', entry)], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // The tail is what matters (warnings, a crash); a long run must not grow it without bound.
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 20_000_000) out = out.slice(-10_000_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

async function stopProc(proc: Proc): Promise<void> {
  const exited = proc.stop('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20000);
  await exited;
  clearTimeout(timer);
}

/** Deletes every Redis key of one queue prefix (queues, leases, rate-limit buckets). */
async function dropRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function liveWorkers(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:worker:*`, 'COUNT', 1000);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  } finally {
    redis.disconnect();
  }
}

/** Which worker process (by pid) holds each host's lease. */
export async function hostLeaseHolders(redisUrl: string, prefix: string, hostIds: string[]): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    const holders = await Promise.all(hostIds.map((id) => redis.get(`${prefix}:lease:${id}`)));
    // Worker ids are HOSTNAME-PID-RANDOM.
    return holders.map((h) => (h ? (h.split('-').at(-2) ?? h) : 'none'));
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts the API and `workers` worker processes on a new database, with the given environment
 * on top of the defaults. Resolves once the API answers /readyz and every worker has announced
 * itself in Redis. With `ownRedis`, the processes use a Redis of the run's own (a server like the
 * shared one: append-only file, no eviction) instead of the shared one, so that its command
 * counts and CPU time are the run's alone.
 */
export async function startBenchPlatform(
  workers: number,
  overrides: Record<string, string>,
  options: { ownRedis?: boolean } = {},
): Promise<BenchPlatform> {
  const db = await createTestDatabase();
  const ownRedis = options.ownRedis ? await startOwnRedis() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'kaas-bench-'));
  const port = await freePort();
  // A Northbound database of the run's own: the run's network collection must never see (and
  // remove) the rows of a platform that shares the machine's, and its cost is measured alone.
  const northbound = overrides.KAAS_OVN_NB ? undefined : await startOvsdbServer({ schema: OVN_NB_SCHEMA });
  const env: Record<string, string> = {
    ...randomEnv(db.url, port),
    ...(northbound ? { KAAS_OVN_NB: northbound.remote, KAAS_OVN_SB: 'none' } : {}),
    KAAS_QUEUE_PREFIX: `kaas-bench-${randomBytes(4).toString('hex')}`,
    KAAS_DATA_DIR: dir,
    KAAS_LOG_LEVEL: process.env.KAAS_BENCH_LOG_LEVEL ?? 'warn',
    ...(ownRedis ? { REDIS_URL: ownRedis.url } : {}),
    ...overrides,
  };
  const api = startProcess('main.js', env);
  const workerPorts: number[] = [];
  for (let i = 0; i < workers; i++) workerPorts.push(await freePort());
  const started = workerPorts.map((workerPort) =>
    startProcess('worker.js', { ...env, KAAS_WORKER_PORT: String(workerPort) }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const admin = new Client(baseUrl, env.KAAS_ADMIN_TOKEN);
  let stopped = false;
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([api, ...started].map(stopProc));
    if (LOGS_DIR) {
      await mkdir(LOGS_DIR, { recursive: true });
      await writeFile(join(LOGS_DIR, 'api.log'), api.output());
      for (const [i, w] of started.entries()) await writeFile(join(LOGS_DIR, `worker-${i + 1}.log`), w.output());
    }
    if (ownRedis) await ownRedis.stop();
    else await dropRedisPrefix(env.REDIS_URL, env.KAAS_QUEUE_PREFIX).catch(() => undefined);
    await db.drop();
    await northbound?.stop();
    await rm(dir, { recursive: true, force: true });
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  // Interrupted (Ctrl-C in `make bench`): leave no processes, database or Redis keys behind; a
  // second signal while that runs (a terminal sends one to the whole process group) changes nothing.
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopped) void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const exitedEarly = () => [api, ...started].find((p) => p.child.exitCode !== null);
    await waitFor(
      'the API',
      async () => {
        const dead = exitedEarly();
        if (dead) throw new Error(`a process exited while starting:\n${dead.output().slice(-2000)}`);
        return (await admin.call('GET', '/readyz')).status === 200;
      },
      60000,
      200,
    );
    await waitFor(
      `${workers} worker(s)`,
      async () => {
        const dead = exitedEarly();
        if (dead) throw new Error(`a process exited while starting:\n${dead.output().slice(-2000)}`);
        return (await liveWorkers(env.REDIS_URL, env.KAAS_QUEUE_PREFIX)) === workers;
      },
      60000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    db,
    env,
    baseUrl,
    admin,
    api,
    workers: started,
    workerPorts,
    ownRedis,
    dir,
    northbound: northbound && {
      pid: Number(readFileSync(join(northbound.dir, 'ovsdb-server.pid'), 'utf8').trim()),
      // Every committed transaction is one record of the database's log (the first is the schema).
      async writes() {
        const { stdout } = await northbound.exec('ovsdb-tool', ['show-log', join(northbound.dir, 'db.db')]);
        return stdout.split('\n').filter((l) => /^record \d+:/.test(l)).length - 1;
      },
    },
    hypervisorPids: [],
    onStop: (c) => cleanups.push(c),
    stop,
  };
}

export interface WorkerReplacement {
  /** The worker's place in `platform.workers`. */
  index: number;
  killedPid: number;
  replacementPid: number;
  /** From the SIGKILL until the replacement announced itself in Redis. */
  secondsToReplacement: number;
}

/**
 * Kills worker `index` with SIGKILL (no shutdown: its host leases lapse after KAAS_HOST_LEASE_MS and
 * its running jobs stall) and starts a replacement in its place in `platform.workers`, so that
 * `stop()` stops the replacement too. Resolves once the replacement has announced itself in Redis.
 */
export async function replaceWorker(platform: BenchPlatform, index: number): Promise<WorkerReplacement> {
  const victim = platform.workers[index];
  if (!victim) throw new Error(`no worker ${index}`);
  const killedPid = victim.child.pid!;
  const t0 = Date.now();
  await victim.stop('SIGKILL');
  if (LOGS_DIR) {
    await mkdir(LOGS_DIR, { recursive: true });
    await writeFile(join(LOGS_DIR, `worker-${index + 1}-killed-${killedPid}.log`), victim.output());
  }
  // The killed worker's port is free again: its replacement serves /metrics there.
  const replacement = startProcess('worker.js', {
    ...platform.env,
    KAAS_WORKER_PORT: String(platform.workerPorts[index]),
  });
  platform.workers[index] = replacement;
  const redis = new Redis(platform.env.REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    // Worker ids are HOSTNAME-PID-RANDOM.
    const pattern = `${platform.env.KAAS_QUEUE_PREFIX}:worker:*-${replacement.child.pid}-*`;
    await waitFor(
      'the replacement worker',
      async () => {
        if (replacement.child.exitCode !== null)
          throw new Error(`the replacement worker exited:\n${replacement.output().slice(-2000)}`);
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          if (keys.length > 0) return true;
          cursor = next;
        } while (cursor !== '0');
        return false;
      },
      60000,
      100,
    );
  } finally {
    redis.disconnect();
  }
  return {
    index,
    killedPid,
    replacementPid: replacement.child.pid!,
    secondsToReplacement: (Date.now() - t0) / 1000,
  };
}

export interface ProcessMemory {
  rssMiB: number;
  /** Peak resident set size over the process's life (VmHWM). */
  peakRssMiB: number;
  /** The anonymous part of the resident set: the process's own memory, not shared buffers or files. */
  anonMiB: number;
}

/** Memory of a live process from /proc/PID/status; undefined once it is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const mib = (field: string) =>
    Math.round((Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024) * 10) / 10;
  return { rssMiB: mib('VmRSS'), peakRssMiB: mib('VmHWM'), anonMiB: mib('RssAnon') };
}

/** One sample of a Prometheus text: its name, its labels and its value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the samples of a Prometheus text exposition (comments and blank lines skipped). */
export function parsePrometheus(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The samples a worker serves on its own port (/metrics, with the admin token). */
export async function workerMetrics(platform: BenchPlatform, index: number): Promise<MetricSample[]> {
  const res = await fetch(`http://127.0.0.1:${platform.workerPorts[index]}/metrics`, {
    headers: { authorization: `Bearer ${platform.env.KAAS_ADMIN_TOKEN}` },
  });
  if (res.status !== 200) throw new Error(`worker ${index + 1} /metrics: ${res.status} ${await res.text()}`);
  return parsePrometheus(await res.text());
}

/** The samples the API serves on /metrics (with the admin token). */
export async function apiMetrics(p: BenchPlatform): Promise<MetricSample[]> {
  const res = await p.admin.call<string>('GET', '/metrics');
  if (res.status !== 200) throw new Error(`API /metrics: ${res.status}`);
  return parsePrometheus(res.body);
}
