import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/processes.js';
import { createTenant, type Client } from '../support/test-app.js';
import { run, useRealHosts, vmEnv } from './vm-support.js';

jest.setTimeout(1200000);

/**
 * The whole product on real guests: an etcd-bundle cluster of 1 master + 1 worker boots under
 * software emulation, serves etcdctl through its floating IP with the issued credentials, scales,
 * survives a destroyed worker VM, and is deleted without leftovers.
 */
describe('an etcd cluster on real VMs', () => {
  const { imageDir, dataDir } = vmEnv();
  let p: Platform;
  let tenant: Client;
  let clusterId: string;
  let floatingIp: string;
  const started = Date.now();
  const timings: Record<string, number> = {};

  const cluster = async () => (await tenant.call('GET', `/v1/clusters/${clusterId}`)).body;
  const nodes = async () =>
    (await tenant.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items as {
      id: string;
      role: string;
      phase: string;
      name: string;
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
    mkdirSync(join(dataDir, 'host'), { recursive: true });
    p = await startPlatform({
      KAAS_HOST_DATA_DIR: join(dataDir, 'host'),
      KAAS_SIM_BOOT_MS: '0',
      KAAS_REQUEUE_MS: '2000',
      KAAS_HEALTH_INTERVAL_SECONDS: '5',
      KAAS_RESYNC_SECONDS: '5',
      KAAS_JOB_LOCK_MS: '120000',
      // Longer than the 2-minute DHCP leases, as in production (300 s), so a released address is
      // never handed to a new VM while dnsmasq still holds a lease for the old one.
      KAAS_IP_QUARANTINE_SECONDS: '150',
    });
    // Only the real host takes nodes: the simulated one from startPlatform is drained.
    await useRealHosts(p, [{ name: 'real-1', uri: 'qemu:///system' }], imageDir);
    await p.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.251.7.0/29' });
    tenant = (await createTenant(p, 'real')).client;
  });

  afterAll(async () => {
    console.log(`real-VM timings (s): ${JSON.stringify(timings)}, total ${((Date.now() - started) / 1000).toFixed(0)}`);
    await p?.close();
  });

  it('boots 1 master + 1 worker to Running', async () => {
    const vpc = (await tenant.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.61.0.0/24' })).body;
    const pool = (await tenant.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 50 })).body;
    const fip = (await tenant.call('POST', '/v1/floating-ips', {})).body;
    floatingIp = fip.address;
    const t0 = Date.now();
    const res = await tenant.call('POST', '/v1/clusters', {
      name: 'real',
      controlPlane: 'etcd',
      masters: 1,
      workers: 1,
      nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
      vpcId: vpc.id,
      storagePoolId: pool.id,
      floatingIpId: fip.id,
      settings: { unhealthyTimeoutSeconds: 20 },
    });
    expect(res.status).toBe(202);
    clusterId = res.body.id;
    const running = await waitRunning('the cluster to be Running', 2);
    timings.postToRunning = (Date.now() - t0) / 1000;
    expect(running.endpoint).toBe(`https://${floatingIp}:2379`);
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

  it('scales workers 1 → 2', async () => {
    const t0 = Date.now();
    await tenant.call('PATCH', `/v1/clusters/${clusterId}`, { workers: 2 });
    await waitRunning('3 nodes ready', 3);
    timings.scaleUp = (Date.now() - t0) / 1000;
  });

  it('scales masters 1 → 3 → 1, each removed master leaving etcd before its VM goes', async () => {
    const members = async () =>
      (await etcdctl('member', 'list', '-w', 'simple')).stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes(', started, '))
        .map((l) => l.split(', ')[2])
        .sort();
    // Through the floating IP, which may be moving (up to one 2-minute DHCP lease) after a change.
    const membersBecome = async (expected: string[]) => {
      let last: unknown;
      await waitFor(
        `etcd members ${expected.join(', ')}`,
        async () => {
          try {
            last = await members();
            return JSON.stringify(last) === JSON.stringify(expected);
          } catch (err) {
            last = (err as Error).message.split('\n').at(-1);
            return false;
          }
        },
        240000,
        2000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; last answer: ${JSON.stringify(last)}`);
      });
    };
    const t0 = Date.now();
    await tenant.call('PATCH', `/v1/clusters/${clusterId}`, { masters: 3 });
    await waitRunning('3 masters + 2 workers ready', 5);
    timings.mastersTo3 = (Date.now() - t0) / 1000;
    const masterNames = (await nodes())
      .filter((n) => n.role === 'master')
      .map((n) => n.name)
      .sort();
    await membersBecome(masterNames);

    const t1 = Date.now();
    await tenant.call('PATCH', `/v1/clusters/${clusterId}`, { masters: 1 });
    await waitFor(
      'one master left',
      async () => (await nodes()).filter((n) => n.role === 'master').length === 1,
      900000,
      1000,
    );
    await waitRunning('Running with 1 master', 3);
    timings.mastersTo1 = (Date.now() - t1) / 1000;
    const [survivor] = (await nodes()).filter((n) => n.role === 'master');
    await membersBecome([survivor.name]);
    // The data is still there, and each removed master left etcd before its VM was destroyed.
    expect((await etcdctl('get', 'greeting', '--print-value-only')).stdout.trim()).toBe('hello from kaas');
    const events = (
      (await tenant.call('GET', `/v1/clusters/${clusterId}/events?limit=1000`)).body.items as {
        reason: string;
        message: string;
        nodeId: string;
      }[]
    ).reverse();
    const removed = masterNames.filter((n) => n !== survivor.name);
    for (const name of removed) {
      const left = events.findIndex((e) => e.reason === 'NodeLeft' && e.message.includes(`(${name})`));
      const deleted = events.findIndex((e) => e.reason === 'NodeDeleted' && e.message.startsWith(`${name} `));
      expect(left).toBeGreaterThan(-1);
      expect(left).toBeLessThan(deleted);
    }
  });

  it('replaces a worker whose VM was destroyed, with no help', async () => {
    const victim = (await nodes()).find((n) => n.role === 'worker')!;
    const t0 = Date.now();
    const runtime = p.worker
      .get(HostLeases)
      .ownedHostIds()
      .map((id) => p.worker.get(HostLeases).runtime(id))
      .find((r) => r && !r.host.simulated)!;
    await runtime.backend!.destroyDomain(libvirtNames.domain(victim.id));
    await waitFor('the victim to be gone', async () => !(await nodes()).some((n) => n.id === victim.id), 900000, 1000);
    await waitRunning('Running again', 3);
    timings.recovery = (Date.now() - t0) / 1000;
  });

  it('deletes the cluster and leaves nothing on the host', async () => {
    await tenant.call('DELETE', `/v1/clusters/${clusterId}`);
    await waitFor(
      'the cluster to go',
      async () => (await tenant.call('GET', `/v1/clusters/${clusterId}`)).status === 404,
      600000,
      1000,
    );
    const { stdout } = await run('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name']);
    expect(stdout.split('\n').filter((n) => n.startsWith('kaas-node-'))).toEqual([]);
    const vols = await run('virsh', ['-c', 'qemu:///system', 'pool-list', '--name']);
    for (const pool of vols.stdout.split('\n').filter((x) => x.startsWith('kaas-pool-'))) {
      const v = await run('virsh', ['-c', 'qemu:///system', 'vol-list', pool, '--details']);
      expect(v.stdout).not.toMatch(/kaas-(node|seed)-/);
    }
  });
});
