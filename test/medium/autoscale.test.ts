import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { AutoscalerHandler } from '../../src/reconcilers/autoscaler.handler.js';
import { waitFor } from '../support/processes.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

jest.setTimeout(90000);

interface NodeView {
  id: string;
  role: string;
  phase: string;
  usage: { cpuPercent: number; memoryMiB: number } | null;
}

/**
 * Usage from the health sweeps (simulated guests report the CPU load set with the cpu-load
 * fault), in GET /v1/clusters/:id and /metrics, and the worker autoscaler acting on it.
 */
describe('usage and the worker autoscaler (simulated host)', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform({ KAAS_RESYNC_SECONDS: '1' });
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('reports usage, scales workers up under load and down when idle, within bounds and cool-down', async () => {
    const s = await tenantWithInfra(p, 'scaler');
    const res = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        workers: 1,
        settings: { autoscale: { minWorkers: 1, maxWorkers: 3, targetCpuPercent: 50, cooldownSeconds: 10 } },
      }),
    );
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    const nodes = async () => (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as NodeView[];
    const autoscaler = p.worker.get(AutoscalerHandler);

    // The only worker becomes busy: 100% against a 50% target asks for ceil(1 × 2) = 2 workers.
    const worker = (await nodes()).find((n) => n.role === 'worker')!;
    const load = await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, {
      nodeId: worker.id,
      fault: 'cpu-load',
      cpuPercent: 100,
    });
    expect(load.status).toBe(202);
    await waitFor(
      'the sweep to sample the load',
      async () => ((await nodes()).find((n) => n.id === worker.id)?.usage?.cpuPercent ?? 0) > 90,
      20000,
    );
    const cluster = (await s.client.call('GET', `/v1/clusters/${id}`)).body;
    expect(cluster.usage.cpuPercent).toBeGreaterThan(0);
    expect(cluster.usage.memoryMiB).toBeGreaterThan(0);
    const metrics = String((await p.admin.call('GET', '/metrics')).body);
    // A ratio of the node's vCPUs (0 to 1), and bytes.
    expect(metrics).toMatch(new RegExp(`kaas_node_cpu_ratio\\{[^}]*node_id="${worker.id}"[^}]*\\} (0\\.9\\d*|1)\n`));
    const memory = new RegExp(`kaas_cluster_memory_bytes\\{[^}]*cluster_id="${id}"[^}]*\\} (\\d+)\n`).exec(metrics);
    expect(Number(memory?.[1])).toBeGreaterThanOrEqual(1024 * 1024);
    expect(Number(memory?.[1]) % (1024 * 1024)).toBe(0);

    expect((await autoscaler.run()).changed).toBe(1);
    expect((await s.client.call('GET', `/v1/clusters/${id}`)).body.workers).toBe(2);
    // In its cool-down, nothing more happens even though the load stays high.
    expect((await autoscaler.run()).changed).toBe(0);
    await waitForPhase(s.client, id, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 3);

    // Idle: after the cool-down, back down to minWorkers.
    for (const n of (await nodes()).filter((x) => x.role === 'worker'))
      await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, { nodeId: n.id, fault: 'cpu-load', cpuPercent: 0 });
    await waitFor(
      'the autoscaler to scale down after its cool-down',
      async () => {
        await autoscaler.run();
        return (await s.client.call('GET', `/v1/clusters/${id}`)).body.workers === 1;
      },
      30000,
      500,
    );
    await waitForPhase(s.client, id, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 2);
    const events = (
      (await s.client.call('GET', `/v1/clusters/${id}/events?limit=1000`)).body.items as {
        reason: string;
        message: string;
      }[]
    ).filter((e) => e.reason === 'Autoscaled');
    expect(events.map((e) => e.message)).toEqual([
      expect.stringMatching(/^workers 2 → 1: average worker CPU/),
      expect.stringMatching(/^workers 1 → 2: average worker CPU (9\d|100)/),
    ]);
  });

  it('respects the tenant quota and says so', async () => {
    const s = await tenantWithInfra(p, 'capped');
    const res = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    const id = res.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    await p.admin.call('PUT', `/v1/tenants/${s.tenantId}/quota`, {
      maxClusters: 5,
      maxNodes: 2,
      maxVcpus: 100,
      maxMemoryMiB: 1024 * 1024,
      maxStorageGiB: 10000,
      maxFloatingIps: 5,
    });
    // minWorkers 2 needs a third node, which the quota refuses.
    const patch = await s.client.call('PATCH', `/v1/clusters/${id}`, {
      settings: { autoscale: { minWorkers: 2, maxWorkers: 3, targetCpuPercent: 50 } },
    });
    expect(patch.status).toBe(202);
    await p.worker.get(AutoscalerHandler).run();
    expect((await s.client.call('GET', `/v1/clusters/${id}`)).body.workers).toBe(1);
    const events = (await s.client.call('GET', `/v1/clusters/${id}/events`)).body.items as {
      reason: string;
      message: string;
    }[];
    expect(events.find((e) => e.reason === 'AutoscaleBlocked')?.message).toMatch(/quota/i);
  });
});
