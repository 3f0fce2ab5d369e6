/**
 * Soak: KAAS_SOAK_MINUTES (30) of mixed tenant traffic on the API process and 2 worker processes
 * started from dist/, on 4 simulated hosts, while a worker is killed with SIGKILL every
 * KAAS_SOAK_KILL_MINUTES (5), the first, then the second, and so on, each replaced by a new process.
 * Four tenants, each with a VPC, a storage pool and floating IPs. A reader paced at
 * KAAS_SOAK_READ_RATE (200) requests per second reads the tenants' lists and the details, nodes and
 * events of the clusters the churn keeps alive; per tenant 5 churn loops each create an etcd cluster
 * (1 master, 0-2 workers), wait for Running, scale its workers, wait again, keep it 15-45 s and
 * delete it: at most 20 clusters alive, every write with an Idempotency-Key. The default request
 * limits apply (100 per second per key): a 429 is counted, never an error.
 *
 * Warm-up: the first 10% of the run, at least 1 minute (KAAS_SOAK_WARMUP_MINUTES). RSS is sampled
 * every 5 s; the start figure is the median over the 30 s after the warm-up, the end figure the
 * median over the last 30 s. A worker's figures are those of the process in its place at that
 * moment: after a kill, the end figure is its replacement's.
 *
 * Exits with 1 on any error (an answer other than 2xx or 429, a request with no answer, a cluster
 * that does not reach its size or go away within 5 minutes; a 404 for a cluster the churn had just
 * taken out of the reader's set to delete is counted apart) or on RSS growth of 10% or more of the
 * API or of a worker. PostgreSQL and Redis are shared with whatever else runs: reported, not checked.
 *
 *   make bench-soak
 *   KAAS_SOAK_MINUTES=6 KAAS_SOAK_KILL_MINUTES=2 make bench-soak
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLibvirtTestHost } from '../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { waitFor } from '../test/support/processes.js';
import { machineLoad, median, percentile, report, RouteStats, type RouteSummary } from './bench-support.js';
import {
  type BenchPlatform,
  type ProcessMemory,
  processMemory,
  replaceWorker,
  startBenchPlatform,
  type WorkerReplacement,
} from './bench-processes.js';

const MINUTES = Number(process.env.KAAS_SOAK_MINUTES ?? 30);
const KILL_MINUTES = Number(process.env.KAAS_SOAK_KILL_MINUTES ?? 5);
const WARMUP_MINUTES = Number(process.env.KAAS_SOAK_WARMUP_MINUTES ?? Math.max(1, MINUTES / 10));
const READ_RATE = Number(process.env.KAAS_SOAK_READ_RATE ?? 200);
const TENANTS = 4;
const HOSTS = 4;
const WORKERS = 2;
const SLOTS_PER_TENANT = 5;
const NODE_SPEC = { vcpus: 1, memoryMiB: 512, diskGiB: 10 };
/** A cluster reaches its declared size, or is gone after a DELETE, within this. */
const SETTLE_MS = 300_000;
const SAMPLE_MS = 5000;
/** The RSS figures are medians over this much of the run, after the warm-up and at the end. */
const WINDOW_MS = 30_000;
/** Beyond this many reads in flight the reader skips (and counts) the ones due. */
const MAX_IN_FLIGHT = 256;
const RSS_GROWTH_LIMIT_PERCENT = 10;
if (!(MINUTES * 60_000 >= WARMUP_MINUTES * 60_000 + 2 * WINDOW_MS) || !(KILL_MINUTES > 0))
  throw new Error('KAAS_SOAK_MINUTES must leave a minute after the warm-up; KAAS_SOAK_KILL_MINUTES must be above 0');

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tenant {
  index: number;
  token: string;
  vpcId: string;
  poolId: string;
  floatingIpIds: string[];
  /** Clusters the reader may read: taken out just before their DELETE. */
  alive: Set<string>;
}

type Answer = { status: number; body: Record<string, unknown> };

let baseUrl = '';
let stopping = false;
const reads = new RouteStats();
const churn = new RouteStats();
const errors: string[] = [];
let rateLimited = 0;
let notFoundAfterDelete = 0;
let skippedReads = 0;
const churnCounts = { created: 0, scaled: 0, deleted: 0, gone: 0 };
const secondsToSize: number[] = [];
const secondsToGone: number[] = [];

function error(what: string): void {
  errors.push(`${new Date().toISOString()} ${what}`);
  if (errors.length <= 20) console.log(`  error: ${what}`);
}

/**
 * One request, timed to the end of its body and counted under `route`. A 404 is an error unless
 * `on404` says it is the answer awaited ('expected') or a read that met a delete ('race').
 */
async function send(
  stats: RouteStats,
  route: string,
  method: string,
  path: string,
  token: string,
  options: { body?: unknown; key?: string; on404?: () => 'expected' | 'race' | 'error' } = {},
): Promise<Answer | undefined> {
  const started = performance.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.key ? { 'idempotency-key': options.key } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    stats.add(route, res.status, performance.now() - started);
    const notFound = res.status === 404 ? (options.on404?.() ?? 'error') : undefined;
    if (res.status === 429) rateLimited++;
    else if (notFound === 'race') notFoundAfterDelete++;
    else if (res.status >= 300 && notFound !== 'expected') error(`${route}: ${res.status} ${text.slice(0, 300)}`);
    const ok = res.status >= 200 && res.status < 300 && text.startsWith('{');
    return { status: res.status, body: ok ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch (err) {
    stats.add(route, 'network', performance.now() - started);
    error(`${route}: no answer (${(err as Error).message})`);
    return undefined;
  }
}

async function must<T = Record<string, unknown>>(
  what: string,
  answer: Promise<{ status: number; body: T }>,
): Promise<T> {
  const res = await answer;
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function registerHosts(p: BenchPlatform): Promise<void> {
  for (let i = 0; i < HOSTS; i++) {
    const h = await createLibvirtTestHost({ cpus: 64, memoryKiB: 256 * 1024 * 1024 });
    p.onStop(h.cleanup);
    await must('host', p.admin.call('POST', '/v1/hosts', { name: `sim-${i + 1}`, uri: h.uri, domainType: 'qemu' }));
  }
  await waitFor(
    'every host Ready',
    async () => {
      const { items } = (await p.admin.call('GET', '/v1/hosts')).body as { items: { state: string }[] };
      return items.length === HOSTS && items.every((h) => h.state === 'Ready');
    },
    60000,
    200,
  );
}

async function prepareTenant(p: BenchPlatform, index: number): Promise<Tenant> {
  const created = await must<{ id: string; apiKey: string }>(
    'tenant',
    p.admin.call('POST', '/v1/tenants', { name: `soak-${index}` }),
  );
  // Room for the clusters still leaving and the replacements after a kill, beside the live ones.
  const nodes = SLOTS_PER_TENANT * 3 * 3;
  await must(
    'quota',
    p.admin.call('PUT', `/v1/tenants/${created.id}/quota`, {
      maxClusters: SLOTS_PER_TENANT * 2,
      maxNodes: nodes,
      maxVcpus: nodes * NODE_SPEC.vcpus,
      maxMemoryMiB: nodes * NODE_SPEC.memoryMiB,
      maxStorageGiB: nodes * NODE_SPEC.diskGiB,
      maxFloatingIps: SLOTS_PER_TENANT,
    }),
  );
  const client = p.admin.as(created.apiKey);
  const vpc = await must<{ id: string }>(
    'vpc',
    client.call('POST', '/v1/vpcs', { name: 'net', cidr: `10.${100 + index}.0.0/22` }),
  );
  const pool = await must<{ id: string }>(
    'pool',
    client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: nodes * NODE_SPEC.diskGiB }),
  );
  const floatingIpIds: string[] = [];
  for (let i = 0; i < SLOTS_PER_TENANT; i++)
    floatingIpIds.push((await must<{ id: string }>('floating IP', client.call('POST', '/v1/floating-ips', {}))).id);
  return { index, token: created.apiKey, vpcId: vpc.id, poolId: pool.id, floatingIpIds, alive: new Set() };
}

/** What the reader reads, by weight (percent); the per-cluster ones pick a live cluster of the tenant. */
const READS: { weight: number; route: string; path: (id: string) => string; perCluster?: boolean }[] = [
  { weight: 20, route: 'GET /v1/clusters', path: () => '/v1/clusters' },
  { weight: 25, route: 'GET /v1/clusters/:id', path: (id) => `/v1/clusters/${id}`, perCluster: true },
  { weight: 20, route: 'GET /v1/clusters/:id/nodes', path: (id) => `/v1/clusters/${id}/nodes`, perCluster: true },
  {
    weight: 15,
    route: 'GET /v1/clusters/:id/events',
    path: (id) => `/v1/clusters/${id}/events?limit=20`,
    perCluster: true,
  },
  { weight: 5, route: 'GET /v1/vpcs', path: () => '/v1/vpcs' },
  { weight: 5, route: 'GET /v1/storage-pools', path: () => '/v1/storage-pools' },
  { weight: 5, route: 'GET /v1/floating-ips', path: () => '/v1/floating-ips' },
  { weight: 5, route: 'GET /v1/control-planes', path: () => '/v1/control-planes' },
];

async function readOne(tenants: Tenant[]): Promise<void> {
  const t = tenants[Math.floor(Math.random() * tenants.length)];
  let x = Math.random() * 100;
  let read = READS.find((r) => (x -= r.weight) < 0) ?? READS[0];
  const ids = [...t.alive];
  if (read.perCluster && ids.length === 0) read = READS[0];
  const id = ids[Math.floor(Math.random() * ids.length)];
  await send(reads, read.route, 'GET', read.path(id), t.token, {
    on404: () => (read.perCluster && !t.alive.has(id) ? 'race' : 'error'),
  });
}

/** Open loop: the reads due at READ_RATE are sent whether or not the earlier ones have answered. */
function startReader(tenants: Tenant[]): { stop(): Promise<void> } {
  const t0 = performance.now();
  let issued = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    if (stopping) return clearInterval(timer);
    const due = Math.floor(((performance.now() - t0) / 1000) * READ_RATE);
    for (; issued < due; issued++) {
      if (inFlight >= MAX_IN_FLIGHT) {
        skippedReads++;
        continue;
      }
      inFlight++;
      void readOne(tenants).finally(() => inFlight--);
    }
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      while (inFlight > 0) await sleep(50);
    },
  };
}

/** Sleeps up to `ms`, less once the run stops. */
async function pause(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!stopping && Date.now() < end) await sleep(Math.min(1000, end - Date.now()));
}

/** A write with its Idempotency-Key, sent again with the same key after a 429 or no answer. */
async function write(t: Tenant, route: string, method: string, path: string, key: string, body?: unknown) {
  for (let attempt = 0; attempt < 30; attempt++) {
    const res = await send(churn, route, method, path, t.token, { body, key });
    if (res && res.status < 300) return res.body;
    if (res && res.status !== 429) return undefined;
    await sleep(1000);
  }
  return undefined;
}

/** Polls until the cluster is Running with `size` nodes Ready; false on timeout (an error) or stop. */
async function waitForSize(t: Tenant, id: string, name: string, size: number): Promise<boolean> {
  const started = Date.now();
  let seen = 'no answer';
  while (!stopping) {
    const res = await send(churn, 'GET /v1/clusters/:id', 'GET', `/v1/clusters/${id}`, t.token);
    if (res?.status === 200) {
      const { phase, nodeCounts } = res.body as { phase: string; nodeCounts: { desired: number; ready: number } };
      seen = `${phase}, ${nodeCounts.ready} of ${nodeCounts.desired} Ready`;
      if (phase === 'Running' && nodeCounts.desired === size && nodeCounts.ready === size) {
        secondsToSize.push((Date.now() - started) / 1000);
        return true;
      }
    }
    if (Date.now() - started > SETTLE_MS) {
      error(`tenant ${t.index} cluster ${name}: not Running with ${size} nodes after ${SETTLE_MS / 1000} s (${seen})`);
      return false;
    }
    await sleep(1000);
  }
  return false;
}

async function waitForGone(t: Tenant, id: string, name: string): Promise<void> {
  const started = Date.now();
  while (!stopping) {
    const res = await send(churn, 'GET /v1/clusters/:id', 'GET', `/v1/clusters/${id}`, t.token, {
      on404: () => 'expected',
    });
    if (res?.status === 404) {
      churnCounts.gone++;
      secondsToGone.push((Date.now() - started) / 1000);
      return;
    }
    if (Date.now() - started > SETTLE_MS) {
      error(`tenant ${t.index} cluster ${name}: still there ${SETTLE_MS / 1000} s after its DELETE`);
      return;
    }
    await sleep(1000);
  }
}

/** One churn loop: create, wait, scale, wait, keep a while, delete, wait until gone; again. */
async function churnSlot(t: Tenant, slot: number): Promise<void> {
  await pause(slot * 3000 + t.index * 700);
  for (let cycle = 1; !stopping; cycle++) {
    const name = `s${slot}-c${cycle}`;
    const from = Math.floor(Math.random() * 3);
    const to = (from + 1 + Math.floor(Math.random() * 2)) % 3;
    const created = await write(t, 'POST /v1/clusters', 'POST', '/v1/clusters', `${name}-create`, {
      name,
      controlPlane: 'etcd',
      masters: 1,
      workers: from,
      nodeSpec: NODE_SPEC,
      vpcId: t.vpcId,
      storagePoolId: t.poolId,
      floatingIpId: t.floatingIpIds[slot],
    });
    if (!created) {
      await pause(5000);
      continue;
    }
    const id = created.id as string;
    churnCounts.created++;
    t.alive.add(id);
    if (await waitForSize(t, id, name, 1 + from)) {
      const path = `/v1/clusters/${id}`;
      if (await write(t, 'PATCH /v1/clusters/:id', 'PATCH', path, `${name}-scale`, { workers: to })) {
        churnCounts.scaled++;
        await waitForSize(t, id, name, 1 + to);
      }
    }
    await pause(15000 + Math.random() * 30000);
    // Stopped: what is left goes with the run's database.
    if (stopping) return;
    t.alive.delete(id);
    if (await write(t, 'DELETE /v1/clusters/:id', 'DELETE', `/v1/clusters/${id}`, `${name}-delete`)) {
      churnCounts.deleted++;
      await waitForGone(t, id, name);
    }
  }
}

type Measured = ProcessMemory & { pid: number };
interface Sample {
  at: number;
  api?: Measured;
  workers: (Measured | undefined)[];
  postmaster?: Measured;
  /** The run's own PostgreSQL backends (its database): how many, and their anonymous memory summed. */
  backends: { count: number; anonMiB: number };
  redis?: Measured;
}

const measure = (pid: number | undefined): Measured | undefined => {
  const m = pid ? processMemory(pid) : undefined;
  return m && { pid: pid!, ...m };
};

/** The parent of one of the run's backends: PostgreSQL's postmaster (field 4 of /proc/PID/stat). */
async function postmasterPid(db: pg.Client): Promise<number> {
  const backend = Number((await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  const stat = readFileSync(`/proc/${backend}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function redisPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  try {
    return Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]) || undefined;
  } finally {
    redis.disconnect();
  }
}

async function sample(p: BenchPlatform, db: pg.Client, pids: { postmaster?: number; redis?: number }, at: number) {
  const backendPids = (await db.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')).rows.map(
    (r: { pid: number }) => r.pid,
  );
  const backends = backendPids.map(measure).filter((m): m is Measured => m !== undefined);
  return {
    at,
    api: measure(p.api.child.pid),
    workers: p.workers.map((w) => measure(w.child.pid)),
    postmaster: measure(pids.postmaster),
    backends: { count: backends.length, anonMiB: round(backends.reduce((a, b) => a + b.anonMiB, 0)) },
    redis: measure(pids.redis),
  } satisfies Sample;
}

/** The median RSS over [from, to] of the process that is in that place at `to`, and its peak then. */
function windowFigure(samples: Sample[], from: number, to: number, pick: (s: Sample) => Measured | undefined) {
  const seen = samples
    .filter((s) => s.at >= from && s.at <= to)
    .map(pick)
    .filter((m): m is Measured => m !== undefined);
  const last = seen.at(-1);
  if (!last) return null;
  const same = seen.filter((m) => m.pid === last.pid);
  return { pid: last.pid, rssMiB: round(median(same.map((m) => m.rssMiB))), peakRssMiB: last.peakRssMiB };
}

function growth(start: { rssMiB: number } | null, end: { rssMiB: number } | null): number | null {
  return start && end ? round(((end.rssMiB - start.rssMiB) / start.rssMiB) * 100) : null;
}

async function tableRows(db: pg.Client): Promise<Record<string, number>> {
  const row = (
    await db.query(
      `SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM audit_log)::int AS audit_log,
              (SELECT count(*) FROM idempotency_records)::int AS idempotency_records,
              (SELECT count(*) FROM clusters)::int AS clusters, (SELECT count(*) FROM nodes)::int AS nodes`,
    )
  ).rows[0] as Record<string, number>;
  return row;
}

function printRoutes(title: string, routes: Record<string, RouteSummary>): void {
  console.log(`\n${title}`);
  console.log(`  ${'route'.padEnd(30)} ${'requests'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
  for (const [route, r] of Object.entries(routes)) {
    const statuses = Object.entries(r.byStatus)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.log(
      `  ${route.padEnd(30)} ${String(r.requests).padStart(9)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)}   ${statuses}`,
    );
  }
}

const loadBefore = machineLoad();
const runMs = MINUTES * 60_000;
const warmupMs = WARMUP_MINUTES * 60_000;
console.log(
  `soak: ${MINUTES} min, a worker killed every ${KILL_MINUTES} min, warm-up ${round(WARMUP_MINUTES, 2)} min, ` +
    `${READ_RATE} reads/s, ${TENANTS} tenants x ${SLOTS_PER_TENANT} churning clusters, ${HOSTS} hosts, ${WORKERS} workers`,
);
const p = await startBenchPlatform(WORKERS, {});
baseUrl = p.baseUrl;
const db = new pg.Client({ connectionString: p.db.url });
await db.connect();
let sampler: NodeJS.Timeout | undefined;
try {
  await registerHosts(p);
  await must('range', p.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.250.0.0/24' }));
  const tenants = await Promise.all(Array.from({ length: TENANTS }, (_, i) => prepareTenant(p, i)));
  const pids = { postmaster: await postmasterPid(db), redis: await redisPid(p.env.REDIS_URL) };

  const t0 = Date.now();
  const samples: Sample[] = [];
  let sampling = false;
  const takeSample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      samples.push(await sample(p, db, pids, Date.now() - t0));
    } finally {
      sampling = false;
    }
  };
  sampler = setInterval(() => void takeSample().catch((err: Error) => error(`sample: ${err.message}`)), SAMPLE_MS);
  const reader = startReader(tenants);
  const slots = tenants.flatMap((t) => Array.from({ length: SLOTS_PER_TENANT }, (_, s) => churnSlot(t, s)));

  const kills: (WorkerReplacement & { atSeconds: number; killedMemory?: ProcessMemory })[] = [];
  const timeline: Record<string, unknown>[] = [];
  let rowsAtWarmup: Record<string, number> | undefined;
  let readsBefore = 0;
  let readsCountedAt = 0;
  for (let minute = 1, kill = 1; ;) {
    const elapsed = Date.now() - t0;
    if (elapsed >= runMs) break;
    if (!rowsAtWarmup && elapsed >= warmupMs) rowsAtWarmup = await tableRows(db);
    if (kill * KILL_MINUTES * 60_000 <= elapsed) {
      const index = (kill - 1) % WORKERS;
      const killedMemory = processMemory(p.workers[index].child.pid!);
      const replaced = await replaceWorker(p, index);
      kills.push({ atSeconds: round(elapsed / 1000), ...replaced, killedMemory });
      console.log(
        `  killed worker ${index + 1} (pid ${replaced.killedPid}, RSS ${killedMemory?.rssMiB} MiB); ` +
          `pid ${replaced.replacementPid} in its place after ${round(replaced.secondsToReplacement, 2)} s`,
      );
      kill++;
    }
    if (minute * 60_000 <= elapsed) {
      const last = samples.at(-1);
      const rows = await tableRows(db);
      const entry = {
        minute,
        readsPerSecond: round(((reads.requests - readsBefore) * 1000) / (Date.now() - t0 - readsCountedAt)),
        errors: errors.length,
        status429: rateLimited,
        clustersAlive: tenants.reduce((a, t) => a + t.alive.size, 0),
        ...churnCounts,
        rssMiB: { api: last?.api?.rssMiB, workers: last?.workers.map((w) => w?.rssMiB) ?? [] },
        rows,
      };
      timeline.push(entry);
      readsBefore = reads.requests;
      readsCountedAt = Date.now() - t0;
      console.log(
        `  ${String(minute).padStart(3)} min: ${entry.readsPerSecond} reads/s, ${entry.errors} errors, ` +
          `${rateLimited} 429s, ${entry.clustersAlive} clusters alive (${churnCounts.created} created, ` +
          `${churnCounts.deleted} deleted), RSS MiB api ${entry.rssMiB.api} workers ${entry.rssMiB.workers.join('/')}; ` +
          `rows: ${rows.events} events, ${rows.audit_log} audit, ${rows.idempotency_records} idempotency`,
      );
      minute++;
    }
    await sleep(Math.min(1000, Math.max(0, runMs - (Date.now() - t0))));
  }
  await takeSample();
  const rowsAtEnd = await tableRows(db);
  const trafficSeconds = (Date.now() - t0) / 1000;
  stopping = true;
  clearInterval(sampler);
  await reader.stop();
  await Promise.all(slots);

  const figure = (pick: (s: Sample) => Measured | undefined) => {
    const start = windowFigure(samples, warmupMs, warmupMs + WINDOW_MS, pick);
    const end = windowFigure(samples, runMs - WINDOW_MS, runMs + SAMPLE_MS, pick);
    const first = samples.map(pick).find((m) => m !== undefined);
    const atTrafficStart = first && { pid: first.pid, rssMiB: first.rssMiB, peakRssMiB: first.peakRssMiB };
    return { atTrafficStart, start, end, growthPercent: growth(start, end) };
  };
  const api = figure((s) => s.api);
  const workers = Array.from({ length: WORKERS }, (_, i) => {
    const f = figure((s) => s.workers[i]);
    return { ...f, replacedSinceStart: f.start?.pid !== f.end?.pid };
  });
  const backendsAt = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at <= to).at(-1)?.backends;
  const readSummary = reads.summary();
  const churnSummary = churn.summary();
  const rssChecked = [api, ...workers].map((f) => f.growthPercent);
  const checks = {
    noErrors: errors.length === 0,
    apiAndWorkerRssGrowthBelow10Percent: rssChecked.every((g) => g !== null && g < RSS_GROWTH_LIMIT_PERCENT),
  };

  printRoutes(`reads (${reads.requests} in ${round(trafficSeconds)} s)`, readSummary);
  printRoutes(`churn (${churn.requests} requests)`, churnSummary);
  console.log('\nRSS MiB, median of the 30 s after the warm-up -> of the last 30 s (peak at the end)');
  const line = (name: string, f: ReturnType<typeof figure>) =>
    console.log(
      `  ${name.padEnd(22)} ${f.start?.rssMiB} (pid ${f.start?.pid}) -> ${f.end?.rssMiB} (pid ${f.end?.pid}, peak ${f.end?.peakRssMiB}): ${f.growthPercent}%`,
    );
  line('api', api);
  workers.forEach((w, i) => line(`worker ${i + 1}`, w));
  line(
    'postgres (postmaster)',
    figure((s) => s.postmaster),
  );
  line(
    'redis',
    figure((s) => s.redis),
  );
  console.log(`\nerrors ${errors.length}, 429s ${rateLimited}, 404s after a delete ${notFoundAfterDelete}`);
  console.log(`rows after the warm-up ${JSON.stringify(rowsAtWarmup)}; at the end ${JSON.stringify(rowsAtEnd)}`);

  report('soak', {
    minutes: MINUTES,
    killEveryMinutes: KILL_MINUTES,
    warmupMinutes: round(WARMUP_MINUTES, 2),
    tenants: TENANTS,
    hosts: HOSTS,
    workerProcesses: WORKERS,
    maxClustersAlive: TENANTS * SLOTS_PER_TENANT,
    rateLimits: 'defaults (100 requests per second per key, 2,000 per address)',
    trafficSeconds: round(trafficSeconds),
    checks,
    passed: Object.values(checks).every(Boolean),
    errors: { count: errors.length, samples: errors.slice(0, 20), status429: rateLimited, notFoundAfterDelete },
    reads: {
      targetPerSecond: READ_RATE,
      requests: reads.requests,
      perSecond: round(reads.requests / trafficSeconds),
      skippedOverInFlightLimit: skippedReads,
      routes: readSummary,
    },
    churn: {
      ...churnCounts,
      secondsToSize: secondsToSize.length
        ? {
            p50: round(median(secondsToSize)),
            p99: round(percentile(secondsToSize, 99)),
            max: round(Math.max(...secondsToSize)),
          }
        : null,
      secondsToGone: secondsToGone.length
        ? {
            p50: round(median(secondsToGone)),
            p99: round(percentile(secondsToGone, 99)),
            max: round(Math.max(...secondsToGone)),
          }
        : null,
      routes: churnSummary,
    },
    kills,
    memory: {
      note:
        'RSS in MiB: the first sample (atTrafficStart), and the median of the samples (every 5 s) over the 30 s after the warm-up (start) and the last 30 s (end), ' +
        'of the process in that place at the end of each window; a worker killed since is compared with its replacement. ' +
        'PostgreSQL and Redis are shared with the rest of the machine; backends are those of the run database (anonymous memory).',
      api,
      workers,
      postgresPostmaster: figure((s) => s.postmaster),
      postgresBackendsOfRun: { start: backendsAt(warmupMs, warmupMs + WINDOW_MS), end: samples.at(-1)?.backends },
      redis: figure((s) => s.redis),
    },
    tables: { afterWarmup: rowsAtWarmup, atEnd: rowsAtEnd },
    timeline,
    load: { before: loadBefore, atEnd: machineLoad() },
  });
  if (!Object.values(checks).every(Boolean)) {
    console.log(`soak: FAILED ${JSON.stringify(checks)}`);
    process.exitCode = 1;
  }
} finally {
  stopping = true;
  clearInterval(sampler);
  await db.end().catch(() => undefined);
  await p.stop();
}
