/**
 * Scale and memory: 1,000 clusters of 1 master + 2 workers, created through the REST API by 32
 * concurrent clients (one tenant each, with its own VPC, pool and floating IPs) on 10 simulated
 * hosts, with the real API process and 1, then 3, real worker processes started from dist/.
 * Measures the time from the first POST until every cluster is Running, then one health sweep
 * over the 3,000 nodes (POST /v1/health/sweeps, median of 3), and the peak RSS and CPU time of
 * each process. Simulated guests keep their default timings (2 s boot, 3 s install) unless
 * KAAS_SIM_BOOT_MS / KAAS_SIM_INSTALL_MS say otherwise. The simulated hosts run inside the worker,
 * then each in a libvirtd of its own (KAAS_BENCH_SIM_HOSTS, below).
 *
 * The bill of one node, from the first POST until every cluster is Running, divided by the nodes:
 * the statements PostgreSQL ran on the run's database (pg_stat_statements, the benchmark's own
 * left out), the jobs, hypervisor calls and Northbound transactions (reads and writes) the
 * processes counted (their /metrics), the commands Redis ran (INFO commandstats of a Redis of the
 * run's own), and the CPU time of the API, the workers, the run's PostgreSQL backends, Redis,
 * the Northbound server and the simulated hosts' daemons; with the 15 statements run most often.
 *
 *   KAAS_BENCHES=scale make bench                      both worker counts, both places of the hosts
 *   KAAS_BENCH_WORKERS=3 KAAS_BENCHES=scale make bench one of them
 *   KAAS_BENCH_SIM_HOSTS=in-process ...                the hosts inside the worker only
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLibvirtTestHost } from '../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { waitFor } from '../test/support/processes.js';
import { startSimulatedHostDaemon } from '../test/support/simulated-host-daemon.js';
import type { Client } from '../test/support/test-app.js';
import {
  BENCH_TAG,
  billBetween,
  DatabaseBackendsCpu,
  enableStatementStats,
  machineLoad,
  median,
  percentile,
  printBill,
  readBill,
  report,
} from './bench-support.js';
import {
  type BenchPlatform,
  HIGH_RATE_LIMITS,
  hostLeaseHolders,
  processStats,
  startBenchPlatform,
} from './bench-processes.js';

const CLUSTERS = Number(process.env.KAAS_BENCH_CLUSTERS ?? 1000);
const TENANTS = Number(process.env.KAAS_BENCH_TENANTS ?? 32);
const HOSTS = Number(process.env.KAAS_BENCH_HOSTS ?? 10);
const WORKER_COUNTS = (process.env.KAAS_BENCH_WORKERS ?? '1 3')
  .split(/[\s,]+/)
  .filter(Boolean)
  .map(Number);
/** Beyond this the run stops waiting and reports how far it got. */
const TIMEOUT_SECONDS = Number(process.env.KAAS_BENCH_TIMEOUT_SECONDS ?? 900);
const NODE_SPEC = { vcpus: 1, memoryMiB: 512, diskGiB: 10 };
const SIM_BOOT_MS = Number(process.env.KAAS_SIM_BOOT_MS ?? 2000);
const SIM_INSTALL_MS = Number(process.env.KAAS_SIM_INSTALL_MS ?? 3000);
/**
 * Where the simulated hosts' libvirt state lives, one run each: `in-process`, libvirt's test
 * driver inside the worker that holds the host (the setup: about 80 MiB for 3,000 domains
 * in that worker's memory, and calls without RPC); `daemons`, one libvirtd per host serving the
 * test driver, where a real host keeps its domains (results `scale-N-worker(s)-host-daemons`,
 * the daemons' CPU time in the bill).
 */
type SimHosts = 'in-process' | 'daemons';
const SIM_HOSTS_MODES = (process.env.KAAS_BENCH_SIM_HOSTS ?? 'in-process daemons').split(/[\s,]+/).filter(Boolean);
for (const m of SIM_HOSTS_MODES)
  if (m !== 'daemons' && m !== 'in-process')
    throw new Error(`KAAS_BENCH_SIM_HOSTS takes "in-process" and "daemons", not "${m}"`);

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tenant {
  index: number;
  client: Client;
  vpcId: string;
  poolId: string;
  floatingIpIds: string[];
}

async function must<T = Record<string, unknown>>(
  what: string,
  answer: Promise<{ status: number; body: T }>,
  ok = [200, 201, 202],
): Promise<T> {
  const res = await answer;
  if (!ok.includes(res.status)) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function registerHosts(p: BenchPlatform, simHosts: SimHosts): Promise<string[]> {
  const ids: string[] = [];
  const hosts = await Promise.all(
    Array.from({ length: HOSTS }, async () => {
      if (simHosts === 'in-process') {
        const h = await createLibvirtTestHost({ cpus: 256, memoryKiB: 512 * 1024 * 1024 });
        p.onStop(h.cleanup);
        return h.uri;
      }
      const d = await startSimulatedHostDaemon();
      p.onStop(d.stop);
      p.hypervisorPids.push(d.pid);
      return d.uri;
    }),
  );
  for (const [i, uri] of hosts.entries()) {
    const body = await must<{ id: string }>(
      'host',
      p.admin.call('POST', '/v1/hosts', {
        name: `sim-${i + 1}`,
        uri,
        domainType: 'qemu',
        // The capacity the in-process hosts describe in their node file.
        cpus: 256,
        memoryMiB: 512 * 1024,
      }),
    );
    ids.push(body.id);
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
  return ids;
}

async function prepareTenant(p: BenchPlatform, index: number, clusters: number): Promise<Tenant> {
  const created = await must<{ id: string; apiKey: string }>(
    'tenant',
    p.admin.call('POST', '/v1/tenants', { name: `bench-${index}` }),
  );
  await must(
    'quota',
    p.admin.call('PUT', `/v1/tenants/${created.id}/quota`, {
      maxClusters: clusters,
      maxNodes: clusters * 3,
      maxVcpus: clusters * 3 * NODE_SPEC.vcpus,
      maxMemoryMiB: clusters * 3 * NODE_SPEC.memoryMiB,
      maxStorageGiB: clusters * 3 * NODE_SPEC.diskGiB,
      maxFloatingIps: clusters,
    }),
  );
  const client = p.admin.as(created.apiKey);
  // Distinct CIDRs: VPCs that overlap are never placed on one host.
  const vpc = await must<{ id: string }>(
    'vpc',
    client.call('POST', '/v1/vpcs', { name: 'net', cidr: `10.${100 + index}.0.0/24` }),
  );
  const pool = await must<{ id: string }>(
    'pool',
    client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: clusters * 3 * NODE_SPEC.diskGiB }),
  );
  const floatingIpIds: string[] = [];
  for (let i = 0; i < clusters; i++)
    floatingIpIds.push((await must<{ id: string }>('floating IP', client.call('POST', '/v1/floating-ips', {}))).id);
  return { index, client, vpcId: vpc.id, poolId: pool.id, floatingIpIds };
}

async function phaseCounts(db: pg.Client): Promise<Record<string, number>> {
  const rows = (await db.query(`SELECT phase, count(*)::int AS n, 1 AS ${BENCH_TAG} FROM clusters GROUP BY phase`))
    .rows as {
    phase: string;
    n: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.phase, r.n]));
}

async function runScale(workers: number, simHosts: SimHosts): Promise<void> {
  const loadBefore = machineLoad();
  console.log(`scale: ${CLUSTERS} clusters, ${TENANTS} tenants, ${HOSTS} hosts (${simHosts}), ${workers} worker(s)`);
  // A Redis of the run's own: the bill counts its commands.
  const p = await startBenchPlatform(workers, HIGH_RATE_LIMITS, { ownRedis: true });
  const db = new pg.Client({ connectionString: p.db.url });
  await db.connect();
  const redis = new Redis(p.env.REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    const statementsOff = await enableStatementStats(db);
    if (statementsOff) console.log(`  no query counts: ${statementsOff}`);
    const ownPid = Number((await db.query(`SELECT pg_backend_pid() AS pid, 1 AS ${BENCH_TAG}`)).rows[0].pid);
    const backends = new DatabaseBackendsCpu(p.db.name, ownPid);
    const hostIds = await registerHosts(p, simHosts);
    const holders = await hostLeaseHolders(p.env.REDIS_URL, p.env.KAAS_QUEUE_PREFIX, hostIds);
    const hostsPerWorker = Object.values(
      holders.reduce<Record<string, number>>((acc, h) => ({ ...acc, [h]: (acc[h] ?? 0) + 1 }), {}),
    );
    // Floating-IP ranges of /21 (2,045 addresses each) until every cluster has its endpoint and
    // every VPC's router its provider address: a VPC's router sits on one provider network, so
    // one range serves a tenant's clusters as one provider network does in an installation.
    for (let r = 0; r * 2045 < CLUSTERS + TENANTS; r++)
      await must(
        'range',
        p.admin.call('POST', '/v1/floating-ip-ranges', { cidr: `10.${250 + (r >> 5)}.${(r & 31) * 8}.0/21` }),
      );
    const share = (i: number) => Math.floor(CLUSTERS / TENANTS) + (i < CLUSTERS % TENANTS ? 1 : 0);
    const setupStart = Date.now();
    const tenants = await Promise.all(Array.from({ length: TENANTS }, (_, i) => prepareTenant(p, i, share(i))));
    const setupSeconds = (Date.now() - setupStart) / 1000;
    const loadAtStart = machineLoad();
    const northboundAtStart = p.northbound
      ? { cpu: processStats(p.northbound.pid).cpuSeconds, writes: await p.northbound.writes() }
      : undefined;
    const billAtStart = await readBill(p, db, redis, backends, !statementsOff, 'start');
    const cpuAtStart = [p.api, ...p.workers].map((proc) => processStats(proc.child.pid!).cpuSeconds);

    // The measured part: 32 clients, one per tenant, each posting its clusters one after another.
    const t0 = Date.now();
    const postLatencies: number[] = [];
    const postErrors: string[] = [];
    let postsDone = 0;
    let allPostedAt = 0;
    const posting = Promise.all(
      tenants.map(async (t) => {
        for (let j = 0; j < t.floatingIpIds.length; j++) {
          const s = performance.now();
          const res = await t.client.call('POST', '/v1/clusters', {
            name: `c${j}`,
            controlPlane: 'etcd',
            masters: 1,
            workers: 2,
            nodeSpec: NODE_SPEC,
            vpcId: t.vpcId,
            storagePoolId: t.poolId,
            floatingIpId: t.floatingIpIds[j],
          });
          postLatencies.push(performance.now() - s);
          if (res.status !== 202) postErrors.push(`${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
          postsDone++;
        }
      }),
    ).then(() => {
      allPostedAt = Date.now();
    });

    const timeline: { s: number; running: number; nodesReady: number; posted: number }[] = [];
    const reached: Record<string, number> = {};
    let running = 0;
    let lastSample = -Infinity;
    // Once every POST is answered, the clusters that were refused are waited for no more.
    const created = () => (allPostedAt ? CLUSTERS - postErrors.length : CLUSTERS);
    while (Date.now() - t0 < TIMEOUT_SECONDS * 1000) {
      const counts = await phaseCounts(db);
      running = counts.Running ?? 0;
      const elapsed = (Date.now() - t0) / 1000;
      for (const share of [50, 90, 99, 100]) {
        if (reached[`p${share}`] === undefined && running >= (CLUSTERS * share) / 100)
          reached[`p${share}`] = round(elapsed, 2);
      }
      if (elapsed - lastSample >= 5 || running >= created()) {
        const nodesReady = Number(
          (await db.query(`SELECT count(*)::int AS n, 1 AS ${BENCH_TAG} FROM nodes WHERE phase = 'Ready'`)).rows[0].n,
        );
        timeline.push({ s: round(elapsed), running, nodesReady, posted: postsDone });
        console.log(`  ${round(elapsed)} s: ${postsDone} posted, ${running} Running, ${nodesReady} nodes Ready`);
        lastSample = elapsed;
      }
      if (running >= created()) break;
      backends.sample();
      await sleep(250);
    }
    const billAtEnd = await readBill(p, db, redis, backends, !statementsOff, 'end');
    await posting;
    const bill = billBetween(billAtStart, billAtEnd, {
      nodes: Math.max(1, created()) * 3,
      window:
        running === CLUSTERS
          ? 'first POST → all Running'
          : running >= created()
            ? `first POST → the ${created()} clusters created Running (${postErrors.length} POSTs refused)`
            : `first POST → timeout, ${running} of ${created()} Running`,
      statementsOff,
      ownRedis: p.ownRedis !== undefined,
    });
    printBill(bill);
    const secondsToAllRunning = running === CLUSTERS ? reached.p100 : null;
    const cpuDuringCreate = [p.api, ...p.workers].map((proc, i) =>
      round(processStats(proc.child.pid!).cpuSeconds - cpuAtStart[i], 1),
    );
    const loadAfterCreate = machineLoad();
    const northbound =
      p.northbound && northboundAtStart
        ? await (async () => {
            const writes = (await p.northbound!.writes()) - northboundAtStart.writes;
            return {
              writeTransactions: writes,
              writesPerNode: round(writes / (CLUSTERS * 3), 2),
              cpuSecondsDuringCreate: round(processStats(p.northbound!.pid).cpuSeconds - northboundAtStart.cpu, 1),
              peakRssMiB: processStats(p.northbound!.pid).peakRssMiB,
            };
          })()
        : null;

    // What tenants see agrees with the database.
    const listed = await Promise.all(
      tenants.map(async (t) => {
        const body = await must<{ items: { phase: string }[] }>(
          'list',
          t.client.call('GET', '/v1/clusters?limit=1000'),
        );
        return body.items.filter((c) => c.phase === 'Running').length;
      }),
    );

    // One health sweep of every host, three times, once every node exists (even if the wait above
    // timed out); the periodic sweeps keep running meanwhile.
    const sweeps: { seconds: number; nodes: number; unhealthy: number; slowestHostMs: number }[] = [];
    const nodeRows = Number((await db.query(`SELECT count(*)::int AS n FROM nodes`)).rows[0].n);
    if (nodeRows === CLUSTERS * 3) {
      for (let i = 0; i < 3; i++) {
        const s = Date.now();
        const body = await must<{ items: { nodes: number; unhealthy: number; ms: number; error?: string }[] }>(
          'sweep',
          p.admin.call('POST', '/v1/health/sweeps', {}),
        );
        const failed = body.items.filter((h) => h.error);
        if (failed.length) throw new Error(`sweep failed on ${failed.length} host(s): ${failed[0].error}`);
        sweeps.push({
          seconds: (Date.now() - s) / 1000,
          nodes: body.items.reduce((a, h) => a + h.nodes, 0),
          unhealthy: body.items.reduce((a, h) => a + h.unhealthy, 0),
          slowestHostMs: Math.max(...body.items.map((h) => h.ms)),
        });
      }
    }

    const memory = {
      api: processStats(p.api.child.pid!),
      workers: p.workers.map((w) => processStats(w.child.pid!)),
    };
    const postgresConnections = Number(
      (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()`)).rows[0].n,
    );
    const name = workers === 1 ? 'scale-1-worker' : `scale-${workers}-workers`;
    report(simHosts === 'daemons' ? `${name}-host-daemons` : name, {
      clusters: CLUSTERS,
      nodes: CLUSTERS * 3,
      tenants: TENANTS,
      hosts: HOSTS,
      simulatedHosts: simHosts,
      workerProcesses: workers,
      hostsPerWorker,
      clients: TENANTS,
      simBootMs: SIM_BOOT_MS,
      simInstallMs: SIM_INSTALL_MS,
      logLevel: p.env.KAAS_LOG_LEVEL,
      rateLimits: 'per key and per address raised to 1,000,000/s (still checked in Redis on every request)',
      setupSeconds: round(setupSeconds),
      northbound,
      bill,
      create: {
        secondsToAllRunning,
        targetSeconds: 120,
        runningAtEnd: running,
        runningSeenByTenants: listed.reduce((a, b) => a + b, 0),
        secondsToShareRunning: reached,
        secondsToAllPosted: allPostedAt ? round((allPostedAt - t0) / 1000, 2) : null,
        postErrors: postErrors.length,
        postErrorSamples: postErrors.slice(0, 3),
        postLatencyMs: {
          p50: round(median(postLatencies)),
          p99: round(percentile(postLatencies, 99)),
          max: round(Math.max(...postLatencies)),
        },
        cpuSecondsDuringCreate: { api: cpuDuringCreate[0], workers: cpuDuringCreate.slice(1) },
        timeline,
      },
      sweep: {
        targetSeconds: 2,
        runs: sweeps,
        medianSeconds: sweeps.length ? round(median(sweeps.map((s) => s.seconds)), 3) : null,
      },
      memory: {
        note: 'peak RSS (VmHWM) over the whole run, including the sweeps',
        apiPeakRssMiB: memory.api.peakRssMiB,
        workerPeakRssMiB: memory.workers.map((w) => w.peakRssMiB),
        apiCpuSeconds: memory.api.cpuSeconds,
        workerCpuSeconds: memory.workers.map((w) => w.cpuSeconds),
        simulatedHostDaemonsPeakRssMiB: p.hypervisorPids.map((pid) => processStats(pid).peakRssMiB),
      },
      postgresConnectionsAtEnd: postgresConnections,
      load: { before: loadBefore, atFirstPost: loadAtStart, afterCreate: loadAfterCreate, atEnd: machineLoad() },
    });
  } finally {
    redis.disconnect();
    await db.end().catch(() => undefined);
    await p.stop();
  }
}

for (const simHosts of SIM_HOSTS_MODES as SimHosts[])
  for (const workers of WORKER_COUNTS) await runScale(workers, simHosts);
