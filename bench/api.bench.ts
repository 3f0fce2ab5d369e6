/**
 * API read latency with 1,000 clusters (3,000 nodes) in the database: GET /v1/clusters/:id and the
 * first page of GET /v1/clusters, measured with autocannon against the real API process (started
 * from dist/), once at a fixed 500 requests per second (target: p99 under 25 ms) and once as fast
 * as it goes, with the CPU time each request cost the API process and the run's PostgreSQL backends
 * (a figure the machine's load moves far less than latencies). Tenants, VPCs, pools, floating IPs
 * and clusters are created through the API; the clusters' nodes are then written straight into the
 * database as the reconcilers leave them once Running (no worker runs: the figures are the API's
 * and PostgreSQL's alone).
 *
 *   KAAS_BENCHES=api make bench
 *   KAAS_BENCH_SCENARIOS=getCluster KAAS_BENCH_SECONDS=10 KAAS_BENCHES=api make bench
 */
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { setCondition, type Condition } from '../src/common/conditions.js';
import { planCluster } from '../src/clusters/cluster-plan.js';
import { createLibvirtTestHost } from '../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import type { Client } from '../test/support/test-app.js';
import { machineLoad, report } from './bench-support.js';
import { HIGH_RATE_LIMITS, processStats, startBenchPlatform } from './bench-processes.js';

/** 31 tenants with 25 clusters and one with 225: 1,000 clusters, and a list longer than a page. */
const SMALL_TENANTS = 31;
const SMALL_CLUSTERS = 25;
const BIG_CLUSTERS = 225;
const RATE = Number(process.env.KAAS_BENCH_RATE ?? 500);
const SECONDS = Number(process.env.KAAS_BENCH_SECONDS ?? 15);
const CONNECTIONS = 16;

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface SeededTenant {
  id: string;
  client: Client;
  clusterIds: string[];
}

async function must<T = Record<string, unknown>>(what: string, answer: Promise<{ status: number; body: T }>) {
  const res = await answer;
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Every condition a Running 1 + 2 cluster carries, as the cluster reconciler writes them. */
function runningConditions(): Condition[] {
  const ready = (id: string, role: 'master' | 'worker') => ({
    id,
    role,
    pool: role === 'worker' ? 'default' : null,
    ready: true,
    provisioned: true,
    unhealthy: false,
    deleting: false,
    replaceRequested: false,
    replacesNodeId: null,
    createdAt: 0,
  });
  const plan = planCluster({
    masters: 1,
    pools: [{ name: 'default', count: 2 }],
    deleting: false,
    nodes: [ready('a', 'master'), ready('b', 'worker'), ready('c', 'worker')],
    wasRunning: false,
    scaling: false,
  });
  let conditions: Condition[] = [];
  for (const c of plan.conditions) conditions = setCondition(conditions, c.type, c.status, c.reason, c.message);
  return setCondition(conditions, 'RemediationAllowed', 'True', 'Allowed', 'unhealthy nodes are replaced');
}

async function seedTenant(
  admin: Client,
  index: number,
  clusters: number,
  hostId: string,
  db: pg.Pool,
): Promise<SeededTenant> {
  const t = await must<{ id: string; apiKey: string }>(
    'tenant',
    admin.call('POST', '/v1/tenants', { name: `t${index}` }),
  );
  await must(
    'quota',
    admin.call('PUT', `/v1/tenants/${t.id}/quota`, {
      maxClusters: clusters,
      maxNodes: clusters * 3,
      maxVcpus: clusters * 3,
      maxMemoryMiB: clusters * 3 * 512,
      maxStorageGiB: clusters * 30,
      maxFloatingIps: clusters,
    }),
  );
  const client = admin.as(t.apiKey);
  const vpc = await must<{ id: string }>(
    'vpc',
    client.call('POST', '/v1/vpcs', { name: 'net', cidr: `10.${100 + index}.0.0/22` }),
  );
  const pool = await must<{ id: string }>(
    'pool',
    client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: clusters * 30 }),
  );
  const clusterIds: string[] = [];
  for (let i = 0; i < clusters; i++) {
    const fip = await must<{ id: string }>('floating IP', client.call('POST', '/v1/floating-ips', {}));
    const c = await must<{ id: string }>(
      'cluster',
      client.call('POST', '/v1/clusters', {
        name: `web-${String(i).padStart(3, '0')}`,
        controlPlane: 'etcd',
        masters: 1,
        workers: 2,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 10 },
        vpcId: vpc.id,
        storagePoolId: pool.id,
        floatingIpId: fip.id,
      }),
    );
    clusterIds.push(c.id);
  }
  // The nodes as a finished provisioning leaves them: Ready, with a heartbeat and a usage sample.
  const now = new Date().toISOString();
  const nodeConditions = JSON.stringify(setCondition([], 'Ready', 'True', 'Guestready', 'ready'));
  const values: unknown[] = [];
  const rows: string[] = [];
  clusterIds.forEach((clusterId, c) => {
    (['master', 'worker', 'worker'] as const).forEach((role, k) => {
      const n = c * 3 + k;
      values.push(
        randomUUID(),
        clusterId,
        t.id,
        `web-${String(c).padStart(3, '0')}-${role}-${k === 2 ? 1 : 0}`,
        k === 2 ? 1 : 0,
        role,
        hostId,
        `10.${100 + index}.${(n + 2) >> 8}.${(n + 2) & 255}`,
        `52:54:${index.toString(16).padStart(2, '0')}:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
        nodeConditions,
        JSON.stringify({ cpuPercent: 3.5, memoryMiB: 310, sampledAt: now, cpuTimeNs: 123456789 }),
      );
      const b = values.length - 11;
      rows.push(
        `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, ${role === 'worker' ? "'default'" : 'NULL'}, (SELECT version FROM clusters WHERE id = $${b + 2}), $${b + 7}, 1, 512, 10, $${b + 8}::inet, $${b + 9}::macaddr, 'Ready', $${b + 10}::jsonb, $${b + 11}::jsonb, now(), now(), now())`,
      );
    });
  });
  await db.query(
    `INSERT INTO nodes (id, cluster_id, tenant_id, name, ordinal, role, pool, version, host_id, vcpus, memory_mib, disk_gib, address, mac, phase, conditions, usage, boot_started_at, ready_at, last_heartbeat_at) VALUES ${rows.join(', ')}`,
    values,
  );
  await db.query(`UPDATE clusters SET phase = 'Running', conditions = $2::jsonb WHERE tenant_id = $1`, [
    t.id,
    JSON.stringify(runningConditions()),
  ]);
  return { id: t.id, client, clusterIds };
}

interface Target {
  path: string;
  headers: Record<string, string>;
}

/**
 * CPU time used so far by the API process and by the PostgreSQL backends of the run's database:
 * per request, a figure that the load of the machine moves far less than latencies.
 */
async function cpuSeconds(apiPid: number, db: pg.Pool): Promise<{ api: number; postgres: number }> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  let postgres = 0;
  for (const { pid } of rows) {
    try {
      postgres += processStats(pid).cpuSeconds;
    } catch {
      // gone meanwhile
    }
  }
  return { api: processStats(apiPid).cpuSeconds, postgres };
}

/** One autocannon run; each request picks its own target (a random cluster, say). */
async function load(
  baseUrl: string,
  pick: () => Target,
  options: { rate?: number; seconds: number; connections: number },
  cpu: () => Promise<{ api: number; postgres: number }>,
) {
  const cpuBefore = await cpu();
  const result = await autocannon({
    url: baseUrl,
    connections: options.connections,
    duration: options.seconds,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          const t = pick();
          return { ...req, path: t.path, headers: { ...req.headers, ...t.headers } };
        },
      },
    ],
  });
  const cpuAfter = await cpu();
  const perRequest = (seconds: number) => round((seconds * 1000) / Math.max(1, result.requests.total), 3);
  return {
    targetRate: options.rate ?? 'max',
    connections: options.connections,
    seconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: round(result.requests.total / result.duration),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuMsPerRequest: {
      api: perRequest(cpuAfter.api - cpuBefore.api),
      postgres: perRequest(cpuAfter.postgres - cpuBefore.postgres),
    },
  };
}

const loadBefore = machineLoad();
const p = await startBenchPlatform(0, HIGH_RATE_LIMITS);
const db = new pg.Pool({ connectionString: p.db.url, max: 4 });
const host = await createLibvirtTestHost({ cpus: 1024, memoryKiB: 4 * 1024 * 1024 * 1024 });
p.onStop(host.cleanup);
try {
  // A host, so that clusters may be declared (no worker holds it: nothing gets provisioned).
  const registered = await must<{ id: string }>(
    'host',
    p.admin.call('POST', '/v1/hosts', { name: 'sim-1', uri: host.uri, domainType: 'qemu' }),
  );
  for (let r = 0; r < 4; r++)
    await must('range', p.admin.call('POST', '/v1/floating-ip-ranges', { cidr: `10.250.${r}.0/24` }));
  const seedStart = Date.now();
  const tenants = await Promise.all([
    seedTenant(p.admin, 0, BIG_CLUSTERS, registered.id, db),
    ...Array.from({ length: SMALL_TENANTS }, (_, i) => seedTenant(p.admin, i + 1, SMALL_CLUSTERS, registered.id, db)),
  ]);
  await db.query('ANALYZE');
  const seedSeconds = (Date.now() - seedStart) / 1000;
  const [big, ...small] = tenants;
  const all = tenants.flatMap((t) => t.clusterIds.map((id) => ({ id, token: t.client.token! })));
  const random = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const cpu = () => cpuSeconds(p.api.child.pid!, db);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const scenarios: Record<string, { what: string; pick: () => Target }> = {
    getCluster: {
      what: 'GET /v1/clusters/:id, a random one of the 1,000 clusters, with its tenant key',
      pick: () => {
        const c = random(all);
        return { path: `/v1/clusters/${c.id}`, headers: bearer(c.token) };
      },
    },
    listClusters: {
      what: `GET /v1/clusters (first page) of a random tenant with ${SMALL_CLUSTERS} clusters`,
      pick: () => ({ path: '/v1/clusters', headers: bearer(random(small).client.token!) }),
    },
    listClustersFullPage: {
      what: `GET /v1/clusters (first page: 100 of ${BIG_CLUSTERS}) of the tenant with ${BIG_CLUSTERS} clusters`,
      pick: () => ({ path: '/v1/clusters', headers: bearer(big.client.token!) }),
    },
    listClustersOperator: {
      what: `GET /v1/clusters (first page: 100 of ${BIG_CLUSTERS}) by the operator acting for that tenant (X-Kaas-Tenant)`,
      pick: () => ({ path: '/v1/clusters', headers: { ...bearer(p.env.KAAS_ADMIN_TOKEN), 'x-kaas-tenant': big.id } }),
    },
  };

  const results: Record<string, unknown> = {};
  const only = process.env.KAAS_BENCH_SCENARIOS?.split(/[\s,]+/);
  for (const [name, s] of Object.entries(scenarios).filter(([n]) => !only || only.includes(n))) {
    const first = s.pick();
    const sample = await fetch(`${p.baseUrl}${first.path}`, { headers: first.headers });
    const text = await sample.text();
    if (sample.status !== 200) throw new Error(`${name}: ${sample.status} ${text}`);
    const bytes = Buffer.byteLength(text);
    // Warm-up: connection pools, JIT, PostgreSQL's caches.
    await load(p.baseUrl, s.pick, { seconds: 3, connections: CONNECTIONS }, cpu);
    const loadAtStart = machineLoad();
    const fixed = await load(p.baseUrl, s.pick, { rate: RATE, seconds: SECONDS, connections: CONNECTIONS }, cpu);
    const max = await load(p.baseUrl, s.pick, { seconds: SECONDS, connections: CONNECTIONS }, cpu);
    results[name] = {
      what: s.what,
      responseBytes: bytes,
      fixedRate: { ...fixed, targetP99Ms: 25, met: fixed.latencyMs.p99 < 25 && fixed.requestsPerSecond >= RATE * 0.95 },
      maxThroughput: max,
      load: { atStart: loadAtStart, atEnd: machineLoad() },
    };
    console.log(
      `${name}: ${RATE}/s p50 ${fixed.latencyMs.p50} ms p99 ${fixed.latencyMs.p99} ms; max ${max.requestsPerSecond}/s p99 ${max.latencyMs.p99} ms; ` +
        `CPU per request flat out: API ${max.cpuMsPerRequest.api} ms, PostgreSQL ${max.cpuMsPerRequest.postgres} ms (load ${loadAtStart.loadAvg[0]})`,
    );
  }
  report('api', {
    clusters: all.length,
    nodes: all.length * 3,
    tenants: tenants.length,
    seedSeconds: round(seedSeconds),
    connections: CONNECTIONS,
    rateLimits:
      'per key and per address raised to 1,000,000/s (each API process takes its tokens from Redis in batches)',
    scenarios: results,
    apiProcess: processStats(p.api.child.pid!),
    load: { before: loadBefore, atEnd: machineLoad() },
  });
} finally {
  await db.end().catch(() => undefined);
  await p.stop();
}
