import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

/**
 * Quota counts what exists, not only what is declared: nodes still leaving after a scale-down
 * hold real VMs, so scaling straight back up cannot take the tenant past its quota.
 */
describe('quota with nodes that still exist', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('counts nodes waiting to leave until they are gone', async () => {
    const s = await tenantWithInfra(p, 'quota-leaving');
    const quota = await p.admin.call('PUT', `/v1/tenants/${s.tenantId}/quota`, {
      maxClusters: 5,
      maxNodes: 4,
      maxVcpus: 100,
      maxMemoryMiB: 100000,
      maxStorageGiB: 1000,
      maxFloatingIps: 5,
    });
    expect(quota.status).toBe(200);
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 2 }));
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    // No worker from here on: the two workers asked to leave stay, as when a leave waits.
    await p.stopWorker();
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 0 })).status).toBe(202);
    const usage = async () => (await p.admin.call('GET', `/v1/tenants/${s.tenantId}`)).body.usage;
    expect((await usage()).nodes).toBe(3);
    const back = await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 2 });
    expect(back.status).toBe(422);
    expect(JSON.stringify(back.body)).toMatch(/maxNodes/);
    // One more is within the quota: 3 that exist + 1 = 4.
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 1 })).status).toBe(202);
    // Once the leaving nodes are gone, the declared size is what counts again.
    const { DataSource } = await import('typeorm');
    await p.app.get(DataSource).query(`DELETE FROM nodes WHERE cluster_id = $1 AND role = 'worker'`, [id]);
    expect((await usage()).nodes).toBe(2);
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 3 })).status).toBe(202);
  });
});
