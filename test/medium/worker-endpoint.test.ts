import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { DataSource } from 'typeorm';
import type { Condition } from '../../src/common/conditions.js';
import { createLogger } from '../../src/common/logger.js';
import { startWorkerHttp } from '../../src/platform/worker-http.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';
import { promtoolCheckMetrics } from '../support/promtool.js';
import { Client, createTenant, LogSink } from '../support/test-app.js';

/** The value of the one series of `name` whose labels include every one given. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (m[3] ?? '').includes(`${k}="${v}"`));
    if (has) return Number(m[4]);
  }
  return undefined;
}

describe("a worker's own port: /metrics, /healthz and /readyz", () => {
  let p: Platform;
  let worker: Client;
  let clusterId: string;
  let tenantKey: string;

  beforeAll(async () => {
    p = await startPlatform();
    const port = await startWorkerHttp(
      p.worker,
      { port: 0, host: '127.0.0.1', explicit: true },
      createLogger('silent', 'worker'),
    );
    worker = new Client(`http://127.0.0.1:${port}`);
    const s = await tenantWithInfra(p, 'metrics-co');
    tenantKey = s.client.token!;
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s));
    expect(created.status).toBe(202);
    clusterId = created.body.id;
    await waitForPhase(s.client, clusterId, 'Running');
  }, 90000);

  afterAll(async () => {
    await p?.close();
  });

  it('answers /healthz and /readyz to anyone, naming no host', async () => {
    expect(await worker.call('GET', '/healthz')).toEqual(
      expect.objectContaining({ status: 200, body: { status: 'ok' } }),
    );
    const ready = await worker.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ready',
      checks: { database: { ok: true }, redis: { ok: true }, leases: { ok: true, held: 1, lapsed: 0 } },
    });
  });

  it("keeps /metrics for the operator: 401 without a token, 403 with a tenant's key", async () => {
    expect((await worker.call('GET', '/metrics')).status).toBe(401);
    const tenant = await worker.as(tenantKey).call('GET', '/metrics');
    expect(tenant.status).toBe(403);
    expect(tenant.body).toEqual(expect.objectContaining({ code: 'FORBIDDEN', requestId: expect.any(String) }));
    const { client: other } = await createTenant(p, 'metrics-nosy');
    expect((await worker.as(other.token!).call('GET', '/metrics')).status).toBe(403);
    expect((await worker.as('kaas_0123456789abcdef_nope').call('GET', '/metrics')).status).toBe(401);
  });

  it("serves the worker's own figures and none of the fleet's", async () => {
    const res = await worker.as(p.config.adminToken!).call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = String(res.body);
    expect(sample(text, 'kaas_host_lease_held', { host_id: p.hostId, host: 'sim-1' })).toBe(1);
    expect(sample(text, 'kaas_host_sweep_seconds_count', { simulated: 'true' })).toBeGreaterThan(0);
    expect(sample(text, 'kaas_host_sweep_interval_seconds')).toBe(1);
    expect(
      sample(text, 'kaas_hypervisor_call_seconds_count', { backend: 'simulated', operation: 'ensureDomain' }),
    ).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'kaas_host_queue_jobs', { host_id: p.hostId, state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'kaas_queue_jobs', { queue: 'reconcile', state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(
      sample(text, 'kaas_job_duration_seconds_count', { queue: 'host', job_name: 'node.reconcile' }),
    ).toBeGreaterThan(0);
    expect(sample(text, 'kaas_cluster_time_to_running_seconds_count')).toBe(1);
    expect(text).toContain('# TYPE kaas_job_failures_total counter');
    expect(text).toContain('# TYPE kaas_ovn_transaction_seconds histogram');
    // The fleet's figures come from the database: the API serves them, a worker never queries them.
    expect(text).not.toMatch(/^kaas_clusters\{/m);
    expect(text).not.toContain('kaas_node_cpu_ratio');
  });

  it("serves the fleet's figures on the API: phases, hosts, and the clusters that need a look", async () => {
    const api = async () => String((await p.admin.call('GET', '/metrics')).body);
    let text = await api();
    expect(sample(text, 'kaas_clusters', { phase: 'Running' })).toBe(1);
    expect(sample(text, 'kaas_clusters', { phase: 'Degraded' })).toBe(0);
    expect(sample(text, 'kaas_nodes', { phase: 'Ready' })).toBe(3);
    expect(sample(text, 'kaas_host_state', { host: 'sim-1', state: 'Ready' })).toBe(1);
    expect(sample(text, 'kaas_host_state', { host: 'sim-1', state: 'Unreachable' })).toBe(0);
    expect(sample(text, 'kaas_host_drained', { host: 'sim-1' })).toBe(0);
    const seen = sample(text, 'kaas_host_last_seen_timestamp_seconds', { host_id: p.hostId })!;
    expect(Math.abs(Date.now() / 1000 - seen)).toBeLessThan(30);
    expect(text).not.toContain('kaas_cluster_not_running_since_timestamp_seconds{');
    expect(text).not.toContain('kaas_cluster_remediation_blocked_since_timestamp_seconds{');

    // The status a reconcile would write for a cluster that lost nodes and may not replace them.
    const db = p.app.get(DataSource);
    const [cluster] = await db.query(`SELECT conditions FROM clusters WHERE id = $1`, [clusterId]);
    const conditions = (cluster.conditions as Condition[]).filter(
      (c) => c.type !== 'Ready' && c.type !== 'RemediationAllowed',
    );
    conditions.push(
      {
        type: 'Ready',
        status: 'False',
        reason: 'NotAtDeclaredSize',
        message: '',
        lastTransitionTime: '2025-01-02T03:04:05.000Z',
      },
      {
        type: 'RemediationAllowed',
        status: 'False',
        reason: 'TooManyUnhealthy',
        message: '',
        lastTransitionTime: '2025-01-02T03:05:00.000Z',
      },
    );
    await db.query(`UPDATE clusters SET phase = 'Degraded', conditions = $2 WHERE id = $1`, [
      clusterId,
      JSON.stringify(conditions),
    ]);
    text = await api();
    expect(sample(text, 'kaas_clusters', { phase: 'Running' })).toBe(0);
    expect(sample(text, 'kaas_clusters', { phase: 'Degraded' })).toBe(1);
    expect(
      sample(text, 'kaas_cluster_not_running_since_timestamp_seconds', { cluster_id: clusterId, phase: 'Degraded' }),
    ).toBe(Date.parse('2025-01-02T03:04:05Z') / 1000);
    expect(
      sample(text, 'kaas_cluster_remediation_blocked_since_timestamp_seconds', {
        cluster_id: clusterId,
        cluster: 'web',
        reason: 'TooManyUnhealthy',
      }),
    ).toBe(Date.parse('2025-01-02T03:05:00Z') / 1000);

    // Before it first runs, a cluster has not been running since it was made.
    await db.query(`UPDATE clusters SET phase = 'Provisioning' WHERE id = $1`, [clusterId]);
    const [{ created }] = await db.query(
      `SELECT extract(epoch FROM created_at)::float AS created FROM clusters WHERE id = $1`,
      [clusterId],
    );
    text = await api();
    expect(
      sample(text, 'kaas_cluster_not_running_since_timestamp_seconds', {
        cluster_id: clusterId,
        phase: 'Provisioning',
      }),
    ).toBeCloseTo(created, 3);
  });

  it('passes promtool check metrics without a warning, on the API and on the worker', async () => {
    for (const client of [p.admin, worker.as(p.config.adminToken!)]) {
      const text = String((await client.call('GET', '/metrics')).body);
      expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });
    }
  });

  it('serves nothing when its default port is taken, and stops the worker when the port was given', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const logs = new LogSink();
    try {
      const logger = createLogger('info', 'worker', logs);
      await expect(startWorkerHttp(p.worker, { port, host: '127.0.0.1', explicit: false }, logger)).resolves.toBe(
        undefined,
      );
      expect(logs.lines.join('\n')).toContain('the default worker port is taken');
      await expect(startWorkerHttp(p.worker, { port, host: '127.0.0.1', explicit: true }, logger)).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      taken.close();
    }
  });

  it('closes its port with the worker', async () => {
    await p.stopWorker();
    await expect(worker.call('GET', '/healthz')).rejects.toThrow();
  });
});
