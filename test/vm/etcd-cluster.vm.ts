import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/processes.js';
import { createTenant, type Client } from '../support/test-app.js';
import {
  guestPortsOn,
  type OvnHosts,
  ovnSettings,
  ownedNorthboundRows,
  run,
  secondHost,
  startOvnHosts,
  useRealHosts,
  vmEnv,
} from './vm-support.js';

jest.setTimeout(1800000);

const HOST_DATA_DIR = '/var/lib/libvirt/kaas-vmtest';

/** Whether a TCP connection to host:port is accepted within the time. */
function accepts(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * The whole product on real guests and real OVN, on two hosts joined by Geneve: an etcd-bundle
 * cluster of 3 masters + 1 worker boots under software emulation with its masters on both hosts,
 * serves etcdctl through its floating IP (a load balancer over the masters, on the endpoint port
 * only) with the issued credentials, keeps answering when one host's VMs stop, has them replaced
 * on the other host, and is deleted without leftovers in libvirt, Open vSwitch or OVN.
 */
describe('an etcd cluster on real VMs over OVN, across two hosts', () => {
  const { imageDir } = vmEnv();
  const second = secondHost();
  let p: Platform;
  let ovn: OvnHosts;
  let tenant: Client;
  let clusterId: string;
  let vpcId: string;
  let rangeId: string;
  let floatingIp: string;
  let floatingIpId: string;
  const hostIds: Record<string, string> = {};
  const started = Date.now();
  const timings: Record<string, number> = {};

  const cluster = async () => (await tenant.call('GET', `/v1/clusters/${clusterId}`)).body;
  const nodes = async () =>
    (await tenant.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items as {
      id: string;
      role: string;
      phase: string;
      name: string;
      hostId: string;
    }[];
  const waitRunning = async (what: string, ready: number) =>
    waitFor(
      what,
      async () => {
        const c = await cluster();
        return c.phase === 'Running' && c.nodeCounts.ready === ready ? c : undefined;
      },
      900000,
      1000,
    );

  beforeAll(async () => {
    ovn = await startOvnHosts();
    p = await startPlatform({
      ...ovnSettings(ovn),
      // Under /var/lib/libvirt, which the second host has a private copy of: each host's disks in
      // a folder of its own, as on separate machines.
      KAAS_HOST_DATA_DIR: HOST_DATA_DIR,
      KAAS_SIM_BOOT_MS: '0',
      KAAS_REQUEUE_MS: '2000',
      KAAS_HEALTH_INTERVAL_SECONDS: '5',
      KAAS_RESYNC_SECONDS: '5',
      KAAS_JOB_LOCK_MS: '120000',
    });
    // One worker holds both hosts: guest status comes over libvirt, control-plane calls go to the
    // floating IP, so nothing needs a route into a VPC. The simulated host is drained.
    Object.assign(
      hostIds,
      await useRealHosts(
        p,
        [
          { name: 'real-1', uri: 'qemu:///system', chassis: ovn.hosts[0].chassis },
          { name: 'real-2', uri: second.uri, chassis: ovn.hosts[1].chassis },
        ],
        imageDir,
      ),
    );
    // On the provider network, whose gateway (.1) is the first host's br-ex.
    const range = await p.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.250.0.16', end: '10.250.0.23' });
    rangeId = range.body.id;
    tenant = (await createTenant(p, 'real')).client;
  });

  afterAll(async () => {
    rmSync(HOST_DATA_DIR, { recursive: true, force: true });
    console.log(`real-VM timings (s): ${JSON.stringify(timings)}, total ${((Date.now() - started) / 1000).toFixed(0)}`);
    await p?.close();
    if (ovn?.startedHere) await ovn.stop();
  });

  it('boots 3 masters + 1 worker to Running, the masters spread over both hosts', async () => {
    const vpc = (await tenant.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.61.0.0/24' })).body;
    vpcId = vpc.id;
    const pool = (await tenant.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 50 })).body;
    const fip = (await tenant.call('POST', '/v1/floating-ips', {})).body;
    floatingIp = fip.address;
    floatingIpId = fip.id;
    const t0 = Date.now();
    const res = await tenant.call('POST', '/v1/clusters', {
      name: 'real',
      controlPlane: 'etcd',
      masters: 3,
      workers: 1,
      nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
      vpcId: vpc.id,
      storagePoolId: pool.id,
      floatingIpId: fip.id,
      settings: { unhealthyTimeoutSeconds: 20 },
    });
    expect(res.status).toBe(202);
    clusterId = res.body.id;
    const running = await waitRunning('the cluster to be Running', 4);
    timings.postToRunning = (Date.now() - t0) / 1000;
    expect(running.endpoint).toBe(`https://${floatingIp}:2379`);
    const masters = (await nodes()).filter((n) => n.role === 'master');
    expect(new Set(masters.map((m) => m.hostId))).toEqual(new Set(Object.values(hostIds)));
    // Each real host's disk was measured from its platform pool, and its nodes' volumes counted.
    for (const id of Object.values(hostIds)) {
      const host = (await p.admin.call('GET', `/v1/hosts/${id}`)).body;
      expect(host.capacity.diskGiB).toBeGreaterThan(0);
      expect(host.allocated.diskGiB).toBe(2 * host.allocated.nodes);
    }
  });

  let etcdDir = '';
  const etcdctl = (...args: string[]) => {
    const dir = etcdDir;
    return run(
      'etcdctl',
      [
        `--endpoints=https://${floatingIp}:2379`,
        `--cacert=${join(dir, 'ca.crt')}`,
        `--cert=${join(dir, 'admin.crt')}`,
        `--key=${join(dir, 'admin.key')}`,
        '--command-timeout=10s',
        ...args,
      ],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    );
  };

  it('serves etcdctl through the floating IP with the issued credentials', async () => {
    const kube = parse(String((await tenant.call('GET', `/v1/clusters/${clusterId}/kubeconfig`)).body));
    const dir = mkdtempSync(join(tmpdir(), 'etcdctl-'));
    const b64 = (s: string) => Buffer.from(s, 'base64');
    writeFileSync(join(dir, 'ca.crt'), b64(kube.clusters[0].cluster['certificate-authority-data']));
    writeFileSync(join(dir, 'admin.crt'), b64(kube.users[0].user['client-certificate-data']));
    writeFileSync(join(dir, 'admin.key'), b64(kube.users[0].user['client-key-data']));
    etcdDir = dir;
    let lastError = '';
    await waitFor(
      'etcd through the floating IP',
      async () => {
        try {
          return (await etcdctl('put', 'greeting', 'hello from kaas')).stdout.includes('OK');
        } catch (err) {
          lastError = String((err as { stderr?: string }).stderr ?? err);
          return false;
        }
      },
      180000,
      2000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; etcdctl said: ${lastError}`);
    });
    expect((await etcdctl('get', 'greeting', '--print-value-only')).stdout.trim()).toBe('hello from kaas');
  });

  it('answers on the endpoint port only', async () => {
    expect(await accepts(floatingIp, 2379)).toBe(true);
    // etcd's peer port and the guests' other ports are open on every master, but not through it.
    for (const port of [2380, 22, 8099])
      expect({ port, open: await accepts(floatingIp, port) }).toEqual({ port, open: false });
  });

  it("keeps answering when one host's VMs stop, and replaces them on the other host", async () => {
    const members = async () =>
      (await etcdctl('member', 'list', '-w', 'simple')).stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes(', started, '))
        .map((l) => l.split(', ')[2])
        .sort();
    const before = await nodes();
    // The host with one master: stopping it leaves etcd its quorum (2 of 3).
    const byHost = (id: string) => before.filter((n) => n.hostId === id && n.role === 'master').length;
    const victimHost = Object.entries(hostIds).find(([, id]) => byHost(id) === 1)!;
    const [victimName, victimId] = victimHost;
    const uri = victimName === 'real-1' ? 'qemu:///system' : second.uri;
    const victims = before.filter((n) => n.hostId === victimId);
    // Writes and reads through the floating IP go on while the host's VMs die.
    const t0 = Date.now();
    for (const v of victims) await run('virsh', ['-c', uri, 'destroy', `kaas-node-${v.id}`]);
    // Nothing new goes to that host: the replacements are made on the other one.
    await p.admin.call('POST', `/v1/hosts/${victimId}/drain`, {});
    // Each write is its own etcdctl, so its own connection through the load balancer: the slowest
    // one says how long the endpoint took to stop sending clients to the dead master.
    let failures = 0;
    let okInARow = 0;
    let slowestMs = 0;
    while (okInARow < 10 && Date.now() - t0 < 120000) {
      const s0 = Date.now();
      try {
        await etcdctl('put', 'during-failover', String(Date.now()));
        okInARow++;
      } catch {
        failures++;
        okInARow = 0;
      }
      slowestMs = Math.max(slowestMs, Date.now() - s0);
    }
    expect(okInARow).toBe(10);
    timings.endpointSlowestWriteDuringFailover = slowestMs / 1000;
    console.log(`endpoint failover: ${failures} failed writes, the slowest took ${slowestMs} ms`);
    await waitFor(
      'the stopped nodes to be replaced on the other host',
      async () => {
        const now = await nodes();
        return (
          now.length === 4 &&
          now.every((n) => n.hostId !== victimId && n.phase === 'Ready') &&
          !now.some((n) => victims.some((v) => v.id === n.id))
        );
      },
      900000,
      2000,
    );
    await waitRunning('Running again', 4);
    timings.hostFailureRecovery = (Date.now() - t0) / 1000;
    const masterNames = (await nodes())
      .filter((n) => n.role === 'master')
      .map((n) => n.name)
      .sort();
    await waitFor(
      'etcd to have the new masters as members',
      async () => JSON.stringify(await members().catch(() => [])) === JSON.stringify(masterNames),
      240000,
      2000,
    );
    expect((await etcdctl('get', 'greeting', '--print-value-only')).stdout.trim()).toBe('hello from kaas');
  });

  it('deletes everything and leaves nothing in libvirt, Open vSwitch or OVN', async () => {
    await tenant.call('DELETE', `/v1/clusters/${clusterId}`);
    await waitFor(
      'the cluster to go',
      async () => (await tenant.call('GET', `/v1/clusters/${clusterId}`)).status === 404,
      600000,
      1000,
    );
    for (const uri of ['qemu:///system', second.uri]) {
      const { stdout } = await run('virsh', ['-c', uri, 'list', '--all', '--name']);
      expect(stdout.split('\n').filter((n) => n.startsWith('kaas-node-'))).toEqual([]);
    }
    for (const host of ovn.hosts) expect(await guestPortsOn(host)).toEqual([]);
    expect((await tenant.call('DELETE', `/v1/vpcs/${vpcId}`)).status).toBe(204);
    expect((await tenant.call('DELETE', `/v1/floating-ips/${floatingIpId}`)).status).toBe(204);
    expect((await p.admin.call('DELETE', `/v1/floating-ip-ranges/${rangeId}`)).status).toBe(204);
    await waitFor(
      'nothing of the platform in the Northbound database',
      async () => (await ownedNorthboundRows(ovn)).length === 0,
      30000,
      500,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${(await ownedNorthboundRows(ovn)).join('; ')}`);
    });
  });
});
