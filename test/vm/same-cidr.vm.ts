import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/processes.js';
import { createTenant, type Client } from '../support/test-app.js';
import {
  type OvnHosts,
  ovnSettings,
  run,
  startOvnHosts,
  useRealHosts,
  vmEnv,
  vpcProbe,
  type VpcProbe,
} from './vm-support.js';

jest.setTimeout(1200000);

interface Tenant {
  name: string;
  client: Client;
  vpcId: string;
  clusterId: string;
  nodes: { id: string; address: string; mac: string }[];
}

/**
 * Two tenants use one VPC CIDR, and their clusters run on the same host: no VPC address is in the
 * host's routing table, each VPC is its own OVN switch, and nothing connects them. Both masters
 * have the same address. A probe port that the test plugs into each VPC's switch (a namespace
 * with a veth into the host's br-int, bound to a logical port of that switch, as a guest's NIC
 * is) reaches its own tenant's nodes, learns only their MACs by ARP, and gets nothing from the
 * other tenant's addresses.
 */
describe('two tenants with one CIDR on one host', () => {
  const { imageDir, dataDir } = vmEnv();
  let p: Platform;
  let ovn: OvnHosts;
  const tenants: Tenant[] = [];
  const probes: VpcProbe[] = [];

  beforeAll(async () => {
    mkdirSync(join(dataDir, 'host'), { recursive: true });
    ovn = await startOvnHosts();
    p = await startPlatform({
      ...ovnSettings(ovn),
      KAAS_HOST_DATA_DIR: join(dataDir, 'host'),
      KAAS_SIM_BOOT_MS: '0',
      KAAS_REQUEUE_MS: '2000',
      KAAS_HEALTH_INTERVAL_SECONDS: '5',
      KAAS_RESYNC_SECONDS: '5',
      KAAS_JOB_LOCK_MS: '120000',
    });
    await useRealHosts(p, [{ name: 'real-1', uri: 'qemu:///system', chassis: ovn.hosts[0].chassis }], imageDir);
    await p.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.250.0.32', end: '10.250.0.39' });
  });

  afterAll(async () => {
    for (const probe of probes) await probe.remove();
    await p?.close();
    if (ovn?.startedHere) await ovn.stop();
  });

  it('runs both clusters on the one host, both masters at the same address', async () => {
    // Tenant a: one master; tenant b: a master and a worker (10.63.0.3 exists only in b's VPC).
    for (const [name, workers] of [
      ['same-a', 0],
      ['same-b', 1],
    ] as const) {
      const client = (await createTenant(p, name)).client;
      const vpc = (await client.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.63.0.0/24' })).body;
      const pool = (await client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 20 })).body;
      const fip = (await client.call('POST', '/v1/floating-ips', {})).body;
      const res = await client.call('POST', '/v1/clusters', {
        name: 'c',
        controlPlane: 'etcd',
        masters: 1,
        workers,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
        vpcId: vpc.id,
        storagePoolId: pool.id,
        floatingIpId: fip.id,
      });
      expect(res.status).toBe(202);
      tenants.push({ name, client, vpcId: vpc.id, clusterId: res.body.id, nodes: [] });
    }
    for (const t of tenants) {
      await waitFor(
        `cluster of ${t.name} to be Running`,
        async () => {
          const c = (await t.client.call('GET', `/v1/clusters/${t.clusterId}`)).body;
          return c.phase === 'Running' && c.nodeCounts.ready === c.masters + c.workers;
        },
        900000,
        1000,
      );
      const items = (await t.client.call('GET', `/v1/clusters/${t.clusterId}/nodes`)).body.items as {
        id: string;
        address: string;
      }[];
      for (const n of items) {
        const { stdout } = await run('virsh', ['-c', 'qemu:///system', 'domiflist', `kaas-node-${n.id}`]);
        const mac = stdout.match(/([0-9a-f]{2}:){5}[0-9a-f]{2}/)![0];
        t.nodes.push({ id: n.id, address: n.address, mac });
      }
    }
    const [a, b] = tenants;
    expect(a.nodes.map((n) => n.address)).toEqual(['10.63.0.2']);
    expect(b.nodes.map((n) => n.address).sort()).toEqual(['10.63.0.2', '10.63.0.3']);
    // No VPC address is routed by the host.
    const { stdout } = await run('ip', ['route', 'show']);
    expect(stdout).not.toContain('10.63.0.');
  });

  it("reaches only its own tenant's nodes from inside each VPC", async () => {
    const [a, b] = tenants;
    const fromA = await vpcProbe(ovn, ovn.hosts[0], a.vpcId, '10.63.0.200');
    const fromB = await vpcProbe(ovn, ovn.hosts[0], b.vpcId, '10.63.0.200');
    probes.push(fromA, fromB);
    await waitFor('the probe of a to reach its master', () => fromA.ping('10.63.0.2'), 30000, 500);
    await waitFor('the probe of b to reach its master', () => fromB.ping('10.63.0.2'), 30000, 500);
    expect(await fromB.ping('10.63.0.3')).toBe(true);
    // 10.63.0.3 is b's worker: from a's VPC it does not answer, nor is anything learnt for it.
    for (let i = 0; i < 3; i++) expect(await fromA.ping('10.63.0.3')).toBe(false);
    const neighboursOfA = await fromA.neighbours();
    expect(neighboursOfA).toContain(a.nodes[0].mac);
    for (const n of b.nodes) expect(neighboursOfA).not.toContain(n.mac);
    expect(neighboursOfA).not.toMatch(/10\.63\.0\.3 .*lladdr/);
    const neighboursOfB = await fromB.neighbours();
    expect(neighboursOfB).toContain(b.nodes.find((n) => n.address === '10.63.0.2')!.mac);
    expect(neighboursOfB).not.toContain(a.nodes[0].mac);
  });

  it('lets nothing through from a port that takes an address it was not given', async () => {
    const [a] = tenants;
    // Port security as on a node's port: 10.63.0.201 with this MAC only.
    const probe = await vpcProbe(ovn, ovn.hosts[0], a.vpcId, '10.63.0.201', { portSecurity: true });
    probes.push(probe);
    await waitFor('the probe to reach the master with its own address', () => probe.ping('10.63.0.2'), 30000, 500);
    await probe.readdress('10.63.0.202');
    for (let i = 0; i < 3; i++) expect(await probe.ping('10.63.0.2')).toBe(false);
    await probe.readdress('10.63.0.201');
    await waitFor('the probe to get through again once back on its address', () => probe.ping('10.63.0.2'), 30000, 500);
  });

  it('deletes both clusters and leaves nothing on the host', async () => {
    for (const t of tenants) await t.client.call('DELETE', `/v1/clusters/${t.clusterId}`);
    for (const t of tenants)
      await waitFor(
        'the cluster to go',
        async () => (await t.client.call('GET', `/v1/clusters/${t.clusterId}`)).status === 404,
        600000,
        1000,
      );
    const { stdout } = await run('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name']);
    expect(stdout.split('\n').filter((n) => n.startsWith('kaas-node-'))).toEqual([]);
    const ports = await run('ovn-nbctl', [
      `--db=${ovn.nb}`,
      '--bare',
      '--columns=name',
      'find',
      'Logical_Switch_Port',
      'external_ids:kaas\\:kind=node-port',
    ]);
    expect(ports.stdout.trim()).toBe('');
  });
});
