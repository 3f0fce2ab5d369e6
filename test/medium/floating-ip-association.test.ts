import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { parse } from 'yaml';
import { ClusterSecretsStore } from '../../src/control-plane/cluster-secrets.store.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { JobQueue } from '../../src/jobs/job-types.js';
import { clusterBody, tenantWithInfra, type TenantSetup } from '../support/platform.js';
import { type Client, startTestApp, type TestApp } from '../support/test-app.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/**
 * PATCH /v1/floating-ips/:id against the API and a real Postgres: no worker runs, so what is
 * checked is the declared state both sides of the link show, and the reconcile jobs asked for.
 */
describe('PATCH /v1/floating-ips/:id: a cluster endpoint moves between clusters', () => {
  let t: TestApp;
  let host: LibvirtTestHost;
  let db: DataSource;
  let a: TenantSetup;
  let b: TenantSetup;

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
    host = await createLibvirtTestHost({ cpus: 16, memoryKiB: 64 * 1024 * 1024 });
    const registered = await t.admin.call('POST', '/v1/hosts', { name: 'h', uri: host.uri, domainType: 'qemu' });
    if (registered.status !== 201) throw new Error(`host: ${JSON.stringify(registered.body)}`);
    a = await tenantWithInfra(t, 'fip-owner');
    b = await tenantWithInfra(t, 'fip-other');
    // Each test makes its own clusters and addresses: more than the default quota and ranges hold.
    expect((await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.252.0.0/24' })).status).toBe(201);
    const quota = await t.admin.call('PUT', `/v1/tenants/${a.tenantId}/quota`, {
      maxClusters: 50,
      maxNodes: 50,
      maxVcpus: 200,
      maxMemoryMiB: 204800,
      maxStorageGiB: 2000,
      maxFloatingIps: 50,
    });
    expect(quota.status).toBe(200);
  }, 60000);
  afterEach(() => {
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    await t?.close();
    await host?.cleanup();
  });

  async function floatingIp(client: Client): Promise<{ id: string; address: string }> {
    const res = await client.call('POST', '/v1/floating-ips', {});
    expect(res.status).toBe(201);
    return res.body;
  }

  async function cluster(s: TenantSetup, name: string, floatingIpId: string): Promise<string> {
    const res = await s.client.call('POST', '/v1/clusters', clusterBody(s, { name, workers: 0, floatingIpId }));
    expect(res.status).toBe(202);
    return res.body.id;
  }

  const patch = (client: Client, fipId: string, body: unknown) =>
    client.call('PATCH', `/v1/floating-ips/${fipId}`, body);
  const clusterFip = async (client: Client, id: string) =>
    (await client.call('GET', `/v1/clusters/${id}`)).body.floatingIpId;
  const fipCluster = async (client: Client, id: string) =>
    (await client.call('GET', `/v1/floating-ips/${id}`)).body.clusterId;

  /** Every link is named from both sides: no cluster names an address that names another. */
  async function expectLinksAgree(): Promise<void> {
    const rows: unknown[] = await db.query(
      `SELECT c.id AS cluster, c.floating_ip_id AS fip, f.cluster_id AS back
         FROM clusters c FULL JOIN floating_ips f ON f.id = c.floating_ip_id
        WHERE (c.id IS NOT NULL AND c.floating_ip_id IS NOT NULL) OR f.cluster_id IS NOT NULL`,
    );
    expect(rows.filter((r) => (r as { cluster: unknown }).cluster !== (r as { back: unknown }).back)).toEqual([]);
  }

  it('releases an address, gives it to another cluster, and moves it back, nudging every cluster touched', async () => {
    const fip1 = await floatingIp(a.client);
    const fip2 = await floatingIp(a.client);
    const one = await cluster(a, 'one', fip1.id);
    const two = await cluster(a, 'two', fip2.id);
    const nudge = jest.spyOn(t.app.get(JobQueue), 'nudge');

    const released = await patch(a.client, fip2.id, { clusterId: null });
    expect(released.status).toBe(202);
    expect(released.body).toEqual({
      id: fip2.id,
      address: fip2.address,
      clusterId: null,
      createdAt: expect.any(String),
    });
    expect(await fipCluster(a.client, fip2.id)).toBeNull();
    const bare = (await a.client.call('GET', `/v1/clusters/${two}`)).body;
    expect(bare).toEqual(expect.objectContaining({ floatingIpId: null, endpoint: null }));
    expect(nudge.mock.calls).toEqual([['cluster.reconcile', { clusterId: two }, { resourceKey: two }]]);

    nudge.mockClear();
    const moved = await patch(a.client, fip1.id, { clusterId: two });
    expect(moved.status).toBe(202);
    expect(moved.body.clusterId).toBe(two);
    expect(await clusterFip(a.client, two)).toBe(fip1.id);
    expect(await clusterFip(a.client, one)).toBeNull();
    expect(await fipCluster(a.client, fip1.id)).toBe(two);
    expect((await a.client.call('GET', `/v1/clusters/${two}`)).body.endpoint).toContain(fip1.address);
    expect(nudge).toHaveBeenCalledTimes(2);
    expect(nudge.mock.calls).toEqual(
      expect.arrayContaining([
        ['cluster.reconcile', { clusterId: one }, { resourceKey: one }],
        ['cluster.reconcile', { clusterId: two }, { resourceKey: two }],
      ]),
    );

    const back = await patch(a.client, fip1.id, { clusterId: one });
    expect(back.status).toBe(202);
    expect(await clusterFip(a.client, one)).toBe(fip1.id);
    expect(await clusterFip(a.client, two)).toBeNull();
    expect(await fipCluster(a.client, fip1.id)).toBe(one);

    const events = (await a.client.call('GET', `/v1/clusters/${two}/events`)).body.items.map(
      (e: { reason: string }) => e.reason,
    );
    expect(events).toEqual(expect.arrayContaining(['FloatingIpReleased', 'FloatingIpAssociated']));
    await expectLinksAgree();
  });

  it('answers 202 and changes nothing when the address already is that cluster’s, or already free', async () => {
    const fip = await floatingIp(a.client);
    const id = await cluster(a, 'same', fip.id);
    const before = (await a.client.call('GET', `/v1/clusters/${id}`)).body;
    const nudge = jest.spyOn(t.app.get(JobQueue), 'nudge');
    const same = await patch(a.client, fip.id, { clusterId: id.toUpperCase() });
    expect(same.status).toBe(202);
    expect(same.body.clusterId).toBe(id);
    const after = (await a.client.call('GET', `/v1/clusters/${id}`)).body;
    expect(after).toEqual(before);
    const free = await floatingIp(a.client);
    expect((await patch(a.client, free.id, { clusterId: null })).status).toBe(202);
    expect(nudge).not.toHaveBeenCalled();
  });

  it('gives a kubeconfig whose server follows the address, and 409 while the cluster has none', async () => {
    const fip1 = await floatingIp(a.client);
    const fip2 = await floatingIp(a.client);
    const id = await cluster(a, 'kube', fip1.id);
    await t.app.get(ClusterSecretsStore).ensure({ id, name: 'kube' });
    const server = async () =>
      parse(String((await a.client.call('GET', `/v1/clusters/${id}/kubeconfig`)).body)).clusters[0].cluster.server;
    expect(await server()).toContain(`//${fip1.address}:`);

    expect((await patch(a.client, fip1.id, { clusterId: null })).status).toBe(202);
    const none = await a.client.call('GET', `/v1/clusters/${id}/kubeconfig`);
    expect(none.status).toBe(409);
    expect(none.body.message).toBe('cluster "kube" has no floating IP; associate one with PATCH /v1/floating-ips/:id');

    expect((await patch(a.client, fip2.id, { clusterId: id })).status).toBe(202);
    expect(await server()).toContain(`//${fip2.address}:`);
  });

  it('refuses a cluster that already has an address, or is being deleted, with 409', async () => {
    const taken = await floatingIp(a.client);
    const spare = await floatingIp(a.client);
    const busy = await cluster(a, 'busy', taken.id);
    const full = await patch(a.client, spare.id, { clusterId: busy });
    expect(full.status).toBe(409);
    expect(full.body.message).toMatch(/cluster "busy" already has a floating IP/);
    expect(full.body.details).toEqual({ field: 'clusterId' });
    expect(await fipCluster(a.client, spare.id)).toBeNull();
    expect(await clusterFip(a.client, busy)).toBe(taken.id);

    // Being deleted: it takes no address, and keeps its own until it is gone.
    const bareFip = await floatingIp(a.client);
    const going = await cluster(a, 'going', bareFip.id);
    expect((await patch(a.client, bareFip.id, { clusterId: null })).status).toBe(202);
    const held = await floatingIp(a.client);
    const leaving = await cluster(a, 'leaving', held.id);
    expect((await a.client.call('DELETE', `/v1/clusters/${going}`)).status).toBe(202);
    expect((await a.client.call('DELETE', `/v1/clusters/${leaving}`)).status).toBe(202);
    const toDeleting = await patch(a.client, spare.id, { clusterId: going });
    expect(toDeleting.status).toBe(409);
    expect(toDeleting.body.message).toBe('cluster "going" is being deleted');
    const fromDeleting = await patch(a.client, held.id, { clusterId: null });
    expect(fromDeleting.status).toBe(409);
    expect(fromDeleting.body.message).toMatch(/"leaving", which is being deleted/);
    expect(await fipCluster(a.client, held.id)).toBe(leaving);
    expect(await clusterFip(a.client, leaving)).toBe(held.id);
    expect(await fipCluster(a.client, spare.id)).toBeNull();
    await expectLinksAgree();
  });

  it.each([
    ['a missing clusterId', {}, /clusterId is required/],
    ['a clusterId that is not an id', { clusterId: 'web' }, /clusterId must be a cluster id, or null/],
    ['a clusterId that is a number', { clusterId: 7 }, /clusterId must be a cluster id, or null/],
    ['an unknown field', { clusterId: null, holder: 'x' }, /holder is not a known field/],
  ])('refuses %s with 400 naming the field', async (_label, body, message) => {
    const fip = await floatingIp(a.client);
    const id = await cluster(a, `bad-${Math.random().toString(36).slice(2, 8)}`, fip.id);
    const res = await patch(a.client, fip.id, body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(res.body.details).toEqual([expect.objectContaining({ field: 'holder' in body ? 'holder' : 'clusterId' })]);
    expect(await fipCluster(a.client, fip.id)).toBe(id);
  });

  it('refuses an absent body with 400 naming clusterId', async () => {
    const fip = await floatingIp(a.client);
    const res = await a.client.call('PATCH', `/v1/floating-ips/${fip.id}`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/clusterId/);
  });

  it('answers 404 for an unknown address or another tenant’s, and 400 naming clusterId for another tenant’s cluster', async () => {
    const mine = await floatingIp(a.client);
    const myCluster = await cluster(a, 'mine', mine.id);
    const theirs = await floatingIp(b.client);
    const theirCluster = await cluster(b, 'theirs', theirs.id);
    const spare = await floatingIp(a.client);

    expect((await patch(a.client, UNKNOWN, { clusterId: null })).status).toBe(404);
    expect((await patch(a.client, 'not-an-id', { clusterId: null })).status).toBe(404);
    const foreignAddress = await patch(a.client, theirs.id, { clusterId: null });
    expect(foreignAddress.status).toBe(404);
    expect(foreignAddress.body.message).toBe(`floating IP ${theirs.id} not found`);
    const intoForeignCluster = await patch(a.client, spare.id, { clusterId: theirCluster });
    expect(intoForeignCluster.status).toBe(400);
    expect(intoForeignCluster.body.message).toBe(`clusterId: cluster ${theirCluster} not found`);
    expect(intoForeignCluster.body.details).toEqual([{ field: 'clusterId', problems: [expect.any(String)] }]);
    const unknownCluster = await patch(a.client, spare.id, { clusterId: UNKNOWN });
    expect(unknownCluster.status).toBe(400);
    expect(unknownCluster.body.details).toEqual([{ field: 'clusterId', problems: [expect.any(String)] }]);
    // Another tenant's address given to my cluster: its address, not mine to give.
    const foreignIntoMine = await patch(a.client, theirs.id, { clusterId: myCluster });
    expect(foreignIntoMine.status).toBe(404);

    expect(await fipCluster(b.client, theirs.id)).toBe(theirCluster);
    expect(await clusterFip(b.client, theirCluster)).toBe(theirs.id);
    expect(await clusterFip(a.client, myCluster)).toBe(mine.id);
    expect(await fipCluster(a.client, spare.id)).toBeNull();
  });

  it('lets the operator act for a tenant named in X-Kaas-Tenant', async () => {
    const fip = await floatingIp(a.client);
    const id = await cluster(a, 'operated', fip.id);
    const res = await t.admin.call(
      'PATCH',
      `/v1/floating-ips/${fip.id}`,
      { clusterId: null },
      {
        'X-Kaas-Tenant': a.tenantId,
      },
    );
    expect(res.status).toBe(202);
    expect(await clusterFip(a.client, id)).toBeNull();
  });

  it('is audited as a write on the floating IP, and replayed for a repeated Idempotency-Key', async () => {
    const fip = await floatingIp(a.client);
    const id = await cluster(a, 'audited', fip.id);
    const key = { 'Idempotency-Key': `release-${fip.id}` };
    const first = await a.client.call('PATCH', `/v1/floating-ips/${fip.id}`, { clusterId: null }, key);
    expect(first.status).toBe(202);
    // Given back to the cluster meanwhile: the retry answers as the first time and changes nothing.
    expect((await patch(a.client, fip.id, { clusterId: id })).status).toBe(202);
    const retry = await a.client.call('PATCH', `/v1/floating-ips/${fip.id}`, { clusterId: null }, key);
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await clusterFip(a.client, id)).toBe(fip.id);

    const audit = await t.admin.call('GET', `/v1/audit?tenantId=${a.tenantId}&limit=100`);
    const patches = audit.body.items.filter(
      (r: { method: string; resourceId?: string }) => r.method === 'PATCH' && r.resourceId === fip.id,
    );
    expect(patches.length).toBeGreaterThanOrEqual(2);
    expect(patches[0]).toEqual(
      expect.objectContaining({
        resourceKind: 'floating-ip',
        path: `/v1/floating-ips/${fip.id}`,
        statusCode: 202,
        outcome: 'success',
      }),
    );
  });

  it('lets a released address be deleted, and not before', async () => {
    const fip = await floatingIp(a.client);
    const id = await cluster(a, 'keeper', fip.id);
    expect((await a.client.call('DELETE', `/v1/floating-ips/${fip.id}`)).status).toBe(409);
    expect((await patch(a.client, fip.id, { clusterId: null })).status).toBe(202);
    expect((await a.client.call('DELETE', `/v1/floating-ips/${fip.id}`)).status).toBe(204);
    expect((await a.client.call('GET', `/v1/floating-ips/${fip.id}`)).status).toBe(404);
    expect(await clusterFip(a.client, id)).toBeNull();
  });

  it('gives a cluster one address when several are sent to it at once', async () => {
    const start = await floatingIp(a.client);
    const target = await cluster(a, 'contended', start.id);
    expect((await patch(a.client, start.id, { clusterId: null })).status).toBe(202);
    const sources = await Promise.all(
      ['src-a', 'src-b', 'src-c'].map(async (name) => {
        const fip = await floatingIp(a.client);
        return { fip, cluster: await cluster(a, name, fip.id) };
      }),
    );
    const answers = await Promise.all(sources.map((s) => patch(a.client, s.fip.id, { clusterId: target })));
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409, 409]);
    const winner = sources[answers.findIndex((r) => r.status === 202)];
    expect(await clusterFip(a.client, target)).toBe(winner.fip.id);
    expect(await clusterFip(a.client, winner.cluster)).toBeNull();
    for (const s of sources.filter((x) => x !== winner)) {
      expect(await clusterFip(a.client, s.cluster)).toBe(s.fip.id);
      expect(await fipCluster(a.client, s.fip.id)).toBe(s.cluster);
    }
    await expectLinksAgree();
  });

  it("refuses an address on another provider network than the VPC's router (422 naming the field)", async () => {
    // The VPC's router took its address on the provider network of the tenant's first cluster
    // (as the worker does); a second range is a provider network of its own.
    const near = await floatingIp(a.client);
    const [{ range_id: nearRange }] = await db.query(`SELECT range_id FROM floating_ips WHERE id = $1`, [near.id]);
    const [{ address: routerAddress }] = await db.query(
      `SELECT host(r.end_address) AS address FROM floating_ip_ranges r WHERE r.id = $1`,
      [nearRange],
    );
    await db.query(`INSERT INTO floating_ips (tenant_id, range_id, address, vpc_id) VALUES ($1, $2, $3, $4)`, [
      a.tenantId,
      nearRange,
      routerAddress,
      a.vpcId,
    ]);
    const range = await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.253.7.0/24' });
    expect(range.status).toBe(201);
    const [far] = await db.query(
      `INSERT INTO floating_ips (tenant_id, range_id, address) VALUES ($1, $2, '10.253.7.2') RETURNING id`,
      [a.tenantId, range.body.id],
    );
    const refused = await a.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(a, { name: 'far', workers: 0, floatingIpId: far.id }),
    );
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/^floatingIpId: 10\.253\.7\.2 is not on the provider network of VPC /);
    const id = await cluster(a, 'near', near.id);
    await patch(a.client, near.id, { clusterId: null });
    const moved = await patch(a.client, far.id, { clusterId: id });
    expect(moved.status).toBe(422);
    expect(moved.body.message).toMatch(/^clusterId: 10\.253\.7\.2 is not on the provider network/);
    expect(await fipCluster(a.client, far.id)).toBeNull();
    expect(await clusterFip(a.client, id)).toBeNull();
  });
});
