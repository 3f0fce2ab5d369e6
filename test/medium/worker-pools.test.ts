import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';
import { waitFor } from '../support/processes.js';

/** Worker pools on a simulated host: declared, scaled, changed and removed through the API. */
describe('worker pools', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  type Node = {
    name: string;
    role: string;
    pool: string | null;
    labels: Record<string, string>;
    vcpus: number;
    phase: string;
  };
  const nodesOf = async (s: { client: Platform['admin'] }, id: string) =>
    ((await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as Node[]).filter(
      (n) => n.phase !== 'Deleting',
    );
  const byPool = (nodes: Node[]) =>
    nodes.reduce<Record<string, number>>(
      (acc, n) => ({ ...acc, [n.pool ?? 'masters']: (acc[n.pool ?? 'masters'] ?? 0) + 1 }),
      {},
    );

  it('makes a cluster of two pools with their own size, labels and taints, then scales, changes and removes them', async () => {
    const s = await tenantWithInfra(p, 'pools');
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        workers: undefined,
        workerPools: [
          { name: 'general', count: 2 },
          {
            name: 'gpu',
            count: 1,
            nodeSpec: { vcpus: 4, memoryMiB: 4096, diskGiB: 40 },
            labels: { 'example.com/tier': 'gpu', accelerator: 'yes' },
            taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
          },
        ],
      }),
    );
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect(created.body.workers).toBe(3);
    expect(created.body.workerPools.map((w: { name: string; count: number }) => [w.name, w.count])).toEqual([
      ['general', 2],
      ['gpu', 1],
    ]);
    const running = await waitForPhase(s.client, id, 'Running');
    expect(running.workerPools.map((w: { nodeCounts: unknown }) => w.nodeCounts)).toEqual([
      { desired: 2, ready: 2 },
      { desired: 1, ready: 1 },
    ]);
    const nodes = await nodesOf(s, id);
    expect(byPool(nodes)).toEqual({ masters: 1, general: 2, gpu: 1 });
    const gpu = nodes.find((n) => n.pool === 'gpu')!;
    expect(gpu).toMatchObject({ vcpus: 4, labels: { 'example.com/tier': 'gpu', accelerator: 'yes' } });
    expect(gpu.name).toMatch(/^web-gpu-\d+$/);
    expect(nodes.find((n) => n.role === 'master')!.pool).toBeNull();
    // Quota counts each pool at its own size: 1×2 + 2×2 + 1×4 vCPUs.
    expect((await p.admin.call('GET', `/v1/tenants/${s.tenantId}`)).body.usage.vcpus).toBe(10);

    // PATCH {workers} is ambiguous with two pools.
    const ambiguous = await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 5 });
    expect(ambiguous.status).toBe(409);
    expect(JSON.stringify(ambiguous.body)).toMatch(/general, gpu/);

    // Scale one pool, change another's labels, add a third.
    expect((await s.client.call('PATCH', `/v1/clusters/${id}/pools/general`, { count: 1 })).status).toBe(202);
    const relabelled = await s.client.call('PATCH', `/v1/clusters/${id}/pools/gpu`, {
      labels: { accelerator: 'no' },
      autoscale: { minCount: 1, maxCount: 3, targetCpuPercent: 60 },
    });
    expect(relabelled.status).toBe(202);
    expect(relabelled.body).toMatchObject({ name: 'gpu', count: 1, labels: { accelerator: 'no' } });
    const added = await s.client.call('POST', `/v1/clusters/${id}/pools`, { name: 'batch', count: 2 });
    expect(added.status).toBe(202);
    expect(added.body).toMatchObject({ name: 'batch', count: 2, nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } });
    expect((await s.client.call('POST', `/v1/clusters/${id}/pools`, { name: 'batch', count: 1 })).status).toBe(409);
    await waitFor(
      'pools at their new sizes',
      async () => {
        const c = (await s.client.call('GET', `/v1/clusters/${id}`)).body;
        const n = byPool(await nodesOf(s, id));
        return c.phase === 'Running' && n.general === 1 && n.batch === 2 && n.gpu === 1 ? c : undefined;
      },
      30000,
      100,
    );
    expect(
      (await s.client.call('GET', `/v1/clusters/${id}/pools`)).body.items.map((x: { name: string }) => x.name),
    ).toEqual(['general', 'gpu', 'batch']);

    // A removed pool's nodes leave like a scale-down.
    const removed = await s.client.call('DELETE', `/v1/clusters/${id}/pools/general`);
    expect(removed.status).toBe(202);
    await waitFor(
      'the general pool gone',
      async () => {
        const c = (await s.client.call('GET', `/v1/clusters/${id}`)).body;
        const n = await nodesOf(s, id);
        return c.phase === 'Running' && !n.some((x) => x.pool === 'general') ? c : undefined;
      },
      30000,
      100,
    );
    const events = (await s.client.call('GET', `/v1/clusters/${id}/events?limit=200`)).body.items as {
      reason: string;
    }[];
    for (const reason of ['PoolChanged', 'PoolAdded', 'PoolRemoved'])
      expect(events.map((e) => e.reason)).toContain(reason);
    expect((await s.client.call('GET', `/v1/clusters/${id}/pools/general`)).status).toBe(404);
    expect((await s.client.call('PATCH', `/v1/clusters/${id}/pools/nope`, { count: 1 })).status).toBe(404);
  }, 120000);

  it('keeps workers: N as one pool named default, and PATCH {workers} scales it', async () => {
    const s = await tenantWithInfra(p, 'pools-default');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    expect(created.status).toBe(202);
    expect(created.body.workerPools).toEqual([
      {
        name: 'default',
        count: 1,
        nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 },
        labels: {},
        taints: [],
        nodeCounts: { desired: 1, ready: 0 },
      },
    ]);
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    const scaled = await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 2 });
    expect(scaled.status).toBe(202);
    expect(scaled.body.workerPools[0].count).toBe(2);
    await waitForPhase(s.client, id, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 3);
    expect(
      (await nodesOf(s, id))
        .filter((n) => n.role === 'worker')
        .map((n) => n.name)
        .sort(),
    ).toEqual(['web-worker-0', 'web-worker-1']);
  }, 60000);

  it.each<[string, Record<string, unknown>, number, RegExp]>([
    ['both workers and workerPools', { workers: 1, workerPools: [] }, 400, /workerPools/],
    ['neither', { workers: undefined }, 400, /workers/],
    [
      'two pools of one name',
      {
        workers: undefined,
        workerPools: [
          { name: 'a', count: 1 },
          { name: 'a', count: 1 },
        ],
      },
      400,
      /workerPools\[1\]\.name/,
    ],
    ['a pool named master', { workers: undefined, workerPools: [{ name: 'master', count: 1 }] }, 400, /reserved/],
    [
      'eleven pools',
      { workers: undefined, workerPools: Array.from({ length: 11 }, (_, i) => ({ name: `p${i}`, count: 0 })) },
      400,
      /at most 10/,
    ],
    [
      'a bad label key',
      { workers: undefined, workerPools: [{ name: 'a', count: 1, labels: { 'bad key': 'x' } }] },
      400,
      /workerPools\[0\]\.labels\.bad key/,
    ],
    [
      'a label in the kubernetes.io namespace',
      { workers: undefined, workerPools: [{ name: 'a', count: 1, labels: { 'node-role.kubernetes.io/gpu': '' } }] },
      400,
      /may not label itself/,
    ],
    [
      'a bad taint effect',
      { workers: undefined, workerPools: [{ name: 'a', count: 1, taints: [{ key: 'k', effect: 'Never' }] }] },
      400,
      /taints\[0\]\.effect/,
    ],
    [
      'autoscale bounds the wrong way',
      {
        workers: undefined,
        workerPools: [{ name: 'a', count: 1, autoscale: { minCount: 3, maxCount: 1, targetCpuPercent: 50 } }],
      },
      400,
      /minCount/,
    ],
    ['a pool count above 100', { workers: undefined, workerPools: [{ name: 'a', count: 101 }] }, 400, /count/],
  ])('refuses %s, naming the field, and makes nothing', async (_what, over, status, message) => {
    const s = await tenantWithInfra(p, `pools-bad-${Math.random().toString(36).slice(2, 8)}`);
    const res = await s.client.call('POST', '/v1/clusters', clusterBody(s, over));
    expect(res.status).toBe(status);
    expect(JSON.stringify(res.body)).toMatch(message);
    expect((await s.client.call('GET', '/v1/clusters')).body.items).toEqual([]);
  });

  it('refuses a pool change past the quota, and leaves the pool as it was', async () => {
    const s = await tenantWithInfra(p, 'pools-quota');
    await p.admin.call('PUT', `/v1/tenants/${s.tenantId}/quota`, {
      maxClusters: 5,
      maxNodes: 10,
      maxVcpus: 12,
      maxMemoryMiB: 100000,
      maxStorageGiB: 1000,
      maxFloatingIps: 5,
    });
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    const big = await s.client.call('POST', `/v1/clusters/${id}/pools`, {
      name: 'big',
      count: 2,
      nodeSpec: { vcpus: 8, memoryMiB: 1024, diskGiB: 10 },
    });
    expect(big.status).toBe(422);
    expect(JSON.stringify(big.body)).toMatch(/maxVcpus/);
    expect(
      (await s.client.call('GET', `/v1/clusters/${id}/pools`)).body.items.map((x: { name: string }) => x.name),
    ).toEqual(['default']);
  });
});
