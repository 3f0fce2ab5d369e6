import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { TenantNetwork } from '../../src/reconcilers/network/tenant-network.service.js';
import { testNorthbound } from '../support/northbound-per-file.js';
import { waitFor } from '../support/processes.js';
import {
  clusterBody,
  type Platform,
  startPlatform,
  type TenantSetup,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';

describe('cluster lifecycle on a simulated host', () => {
  let p: Platform;
  let s: TenantSetup;
  let clusterId: string;

  const nodes = async () =>
    (await s.client.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items as {
      id: string;
      role: string;
      phase: string;
      address: string;
      name: string;
    }[];
  const libvirtDomains = async () =>
    (await p.worker.get(HostLeases).runtime(p.hostId)!.backend!.listOwnedDomains()).map((d) => d.owner?.nodeId);

  /** Rows of a Northbound table, through ovn-nbctl (the operator's view). */
  const nbRows = async (table: string, ...conditions: string[]) => {
    const { stdout } = await testNorthbound().exec('ovn-nbctl', [
      `--db=${testNorthbound().remote}`,
      '--format=json',
      conditions.length ? 'find' : 'list',
      table,
      ...conditions,
    ]);
    const parsed = JSON.parse(stdout) as { headings: string[]; data: unknown[][] };
    return parsed.data.map((row) => Object.fromEntries(parsed.headings.map((h, i) => [h, row[i]]))) as Record<
      string,
      unknown
    >[];
  };

  beforeAll(async () => {
    p = await startPlatform();
    s = await tenantWithInfra(p, 'lifecycle');
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('creates 1 master + 2 workers and reaches Running', async () => {
    const res = await s.client.call('POST', '/v1/clusters', clusterBody(s));
    expect(res.status).toBe(202);
    expect(res.body).toEqual(
      expect.objectContaining({ name: 'web', phase: 'Pending', masters: 1, workers: 2, controlPlane: 'etcd' }),
    );
    clusterId = res.body.id;
    const running = await waitForPhase(s.client, clusterId, 'Running');
    expect(running.nodeCounts).toEqual({ desired: 3, ready: 3 });
    expect(running.endpoint).toMatch(/^https:\/\/10\.\d+\.\d+\.\d+:2379$/);
    const conditions = Object.fromEntries(
      (running.conditions as { type: string; status: string }[]).map((c) => [c.type, c.status]),
    );
    expect(conditions).toEqual(
      expect.objectContaining({
        InfrastructureReady: 'True',
        ControlPlaneReady: 'True',
        WorkersReady: 'True',
        Ready: 'True',
      }),
    );
    const list = await nodes();
    expect(list.map((n) => n.role).sort()).toEqual(['master', 'worker', 'worker']);
    expect(new Set(list.map((n) => n.address)).size).toBe(3);
    expect((await libvirtDomains()).sort()).toEqual(list.map((n) => n.id).sort());
    // The network, as OVN has it: one port per node with its address and port security, and the
    // endpoint as a load balancer on the floating IP over the Ready master.
    const ports = await nbRows('Logical_Switch_Port', 'external_ids:kaas\\:kind=node-port');
    expect(ports.map((r) => r.name).sort()).toEqual(list.map((n) => n.id).sort());
    for (const n of list) {
      const port = ports.find((r) => r.name === n.id)!;
      expect(String(port.port_security)).toContain(n.address);
    }
    const fip = (await s.client.call('GET', `/v1/floating-ips/${s.floatingIpId}`)).body.address as string;
    const master = list.find((n) => n.role === 'master')!;
    await waitFor('the endpoint over the master', async () => {
      const lbs = await nbRows('Load_Balancer', 'external_ids:kaas\\:kind=endpoint-lb');
      return (
        lbs.length === 1 &&
        JSON.stringify(lbs[0].vips).includes(`${fip}:2379`) &&
        JSON.stringify(lbs[0].vips).includes(`${master.address}:2379`)
      );
    });
    // The bill in Northbound transactions: the provider network, the VPC and the endpoint once
    // each, a port per node; passes that find their scope in place send nothing.
    const txns = p.worker.get(TenantNetwork).controller.transactions;
    console.log(
      `Northbound transactions for a 1+2 cluster: ${JSON.stringify(txns)} (${(txns.writes / 3).toFixed(2)} writes per node)`,
    );
    // The nodes' first passes run at once and race to create the VPC: the losers plan again.
    expect(txns.conflicts).toBeLessThanOrEqual(4);
    expect(txns.writes - txns.conflicts).toBeLessThanOrEqual(1 + 1 + 3 + 2);
    expect(txns.reads).toBeLessThanOrEqual(txns.writes + 6);
    const events = (await s.client.call('GET', `/v1/clusters/${clusterId}/events`)).body.items as { reason: string }[];
    expect(events[0].reason).toBe('PhaseRunning');
    expect(events.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['Created', 'CredentialsCreated', 'NodeCreated', 'NodeReady']),
    );
  });

  it('reports the host connection in /readyz without naming it', async () => {
    const ready = await p.admin.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.hosts).toEqual({ ok: true, total: 1, connected: 1 });
    expect(JSON.stringify(ready.body)).not.toContain('sim-1');
  });

  it('serves a kubeconfig for the floating IP', async () => {
    const res = await s.client.call('GET', `/v1/clusters/${clusterId}/kubeconfig`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('yaml');
    expect(String(res.body)).toMatch(/server: https:\/\/10\.\d+\.\d+\.\d+:2379/);
  });

  it("issues each kubeconfig a certificate of its own, for the caller's key, expiring when asked", async () => {
    const certOf = async (query: string) => {
      const res = await s.client.call('GET', `/v1/clusters/${clusterId}/kubeconfig${query}`);
      expect(res.status).toBe(200);
      const data = /client-certificate-data: (\S+)/.exec(String(res.body))![1];
      return new X509Certificate(Buffer.from(data, 'base64').toString());
    };
    const short = await certOf('?ttlSeconds=120');
    const lifetime = (c: X509Certificate) => (new Date(c.validTo).getTime() - Date.now()) / 1000;
    expect(Math.abs(lifetime(short) - 120)).toBeLessThan(10);
    expect(short.subject).toMatch(/CN=kaas:key:[0-9a-f-]{36}/);
    expect(short.subject).toMatch(/O=system:masters/);
    const daily = await certOf('');
    expect(Math.abs(lifetime(daily) - 86400)).toBeLessThan(10);
    expect(daily.serialNumber).not.toBe(short.serialNumber);
    // OpenSSL reads the expiry the same way: checkend says it ends within 5 minutes.
    const pem = short.toString();
    const checkend = spawnSync('openssl', ['x509', '-noout', '-checkend', '300'], { input: pem });
    expect(checkend.status).toBe(1);
    expect(spawnSync('openssl', ['x509', '-noout', '-checkend', '60'], { input: pem }).status).toBe(0);
    for (const bad of ['0', '59', '2592001', 'abc', '-5'])
      expect(
        JSON.stringify((await s.client.call('GET', `/v1/clusters/${clusterId}/kubeconfig?ttlSeconds=${bad}`)).body),
      ).toMatch(/ttlSeconds/);
    const events = (await s.client.call('GET', `/v1/clusters/${clusterId}/events?limit=1000`)).body.items as {
      reason: string;
    }[];
    expect(events.filter((e) => e.reason === 'KubeconfigIssued').length).toBeGreaterThanOrEqual(2);
  });

  it('scales workers 2 → 5 → 1', async () => {
    const degraded = async () =>
      (
        (await s.client.call('GET', `/v1/clusters/${clusterId}/events?limit=1000`)).body.items as { reason: string }[]
      ).filter((e) => e.reason === 'PhaseDegraded').length;
    const degradedBefore = await degraded();
    expect((await s.client.call('PATCH', `/v1/clusters/${clusterId}`, { workers: 5 })).status).toBe(202);
    await waitForPhase(s.client, clusterId, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 6);
    // Updating all along while the new workers came up: never Degraded on the way.
    expect(await degraded()).toBe(degradedBefore);
    expect((await nodes()).filter((n) => n.role === 'worker')).toHaveLength(5);
    await s.client.call('PATCH', `/v1/clusters/${clusterId}`, { workers: 1 });
    await waitFor('4 workers to go', async () => (await nodes()).length === 2, 30000);
    await waitForPhase(s.client, clusterId, 'Running');
    expect((await libvirtDomains()).length).toBe(2);
  });

  it('scales masters 1 → 3 → 1, one at a time', async () => {
    await s.client.call('PATCH', `/v1/clusters/${clusterId}`, { masters: 3 });
    await waitForPhase(s.client, clusterId, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 4);
    expect((await nodes()).filter((n) => n.role === 'master')).toHaveLength(3);
    await s.client.call('PATCH', `/v1/clusters/${clusterId}`, { masters: 1 });
    await waitFor(
      '2 masters to go',
      async () => (await nodes()).filter((n) => n.role === 'master').length === 1,
      30000,
    );
    await waitForPhase(s.client, clusterId, 'Running');
    const events = (
      (await s.client.call('GET', `/v1/clusters/${clusterId}/events?limit=1000`)).body.items as {
        reason: string;
        message: string;
        nodeId: string;
        createdAt: string;
      }[]
    ).reverse(); // oldest first
    const removals = events.filter((e) => e.reason === 'NodeRemoving' && e.message.startsWith('removing master'));
    expect(removals).toHaveLength(2);
    // Each removed master left the control plane (etcd membership) before its VM went.
    for (const r of removals) {
      const mine = events.filter((e) => e.nodeId === r.nodeId).map((e) => e.reason);
      expect(mine.indexOf('NodeLeft')).toBeGreaterThan(-1);
      expect(mine.indexOf('NodeLeft')).toBeLessThan(mine.indexOf('NodeDeleted'));
    }
  });

  it('deletes the cluster and leaves nothing in libvirt or the database', async () => {
    expect((await s.client.call('DELETE', `/v1/clusters/${clusterId}`)).status).toBe(202);
    await waitFor(
      'the cluster to disappear',
      async () => (await s.client.call('GET', `/v1/clusters/${clusterId}`)).status === 404,
      30000,
    );
    expect((await s.client.call('GET', '/v1/clusters')).body.items).toEqual([]);
    expect(await libvirtDomains()).toEqual([]);
    const fip = await s.client.call('GET', `/v1/floating-ips/${s.floatingIpId}`);
    expect(fip.body.clusterId).toBeNull();
    const { DataSource } = await import('typeorm');
    const ds = p.app.get(DataSource);
    const [counts] = await ds.query(
      `SELECT (SELECT count(*) FROM nodes) AS nodes, (SELECT count(*) FROM volumes) AS volumes, (SELECT count(*) FROM ip_allocations WHERE released_at IS NULL) AS ips, (SELECT count(*) FROM cluster_secrets) AS secrets`,
    );
    expect(counts).toEqual({ nodes: '0', volumes: '0', ips: '0', secrets: '0' });
    const driver = p.worker.get(HostLeases).runtime(p.hostId)!.backend!;
    const pools = (await driver.listPools()).filter((pool) => pool !== 'kaas-platform');
    expect(pools).toHaveLength(1);
    for (const pool of pools) expect(await driver.listVolumes(pool)).toEqual([]);
    // The platform pool keeps only the bundle disk that the host's nodes share.
    expect(await driver.listVolumes('kaas-platform')).toEqual([
      expect.stringMatching(/^kaas-bundle-etcd-v3\.4\.23-[0-9a-f]{12}\.iso$/),
    ]);
    // No port of a node that is gone, and no endpoint; the VPC's own rows stay while it exists.
    expect(await nbRows('Logical_Switch_Port', 'external_ids:kaas\\:kind=node-port')).toEqual([]);
    expect(await nbRows('Load_Balancer')).toEqual([]);
    expect(await nbRows('Logical_Switch', `name=kaas-vpc-${s.vpcId}`)).toHaveLength(1);
    // Deleting the tenant's VPC and pool removes its OVN rows and the libvirt pool.
    expect((await s.client.call('DELETE', `/v1/vpcs/${s.vpcId}`)).status).toBe(204);
    expect((await s.client.call('DELETE', `/v1/storage-pools/${s.poolId}`)).status).toBe(204);
    await waitFor(
      "the VPC's rows to leave OVN and the pool to leave the host",
      async () =>
        (await nbRows('Logical_Switch', `name=kaas-vpc-${s.vpcId}`)).length === 0 &&
        (await nbRows('Logical_Router')).length === 0 &&
        (await driver.listPools()).every((x) => x === 'kaas-platform'),
      10000,
    );
    // What is left is the provider network of the floating-IP range, which still exists.
    expect((await nbRows('Logical_Switch')).map((r) => r.name)).toEqual([expect.stringMatching(/^kaas-provider-/)]);
  });
});
