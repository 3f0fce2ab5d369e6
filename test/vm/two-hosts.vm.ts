import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { ROOT, waitFor } from '../support/processes.js';
import { createTenant, type Client } from '../support/test-app.js';
import { consoleText, run, secondHost, useRealHosts, vmEnv } from './vm-support.js';

jest.setTimeout(1200000);

/**
 * Two real hypervisor hosts, each with the platform's worker on it (KAAS_WORKER_HOSTS), as an
 * installation runs them: the worker of a host reaches that host's VPC bridges and nobody else's.
 * Two tenants reuse one CIDR; their clusters land on different hosts (one host cannot carry the
 * subnet twice), both masters get the same address, each in its own VPC, and both clusters run.
 */
describe('two real hosts, one worker on each', () => {
  const { imageDir, dataDir } = vmEnv();
  const second = secondHost();
  const overrides = {
    KAAS_SIM_BOOT_MS: '0',
    KAAS_REQUEUE_MS: '2000',
    KAAS_HEALTH_INTERVAL_SECONDS: '5',
    KAAS_RESYNC_SECONDS: '5',
    KAAS_JOB_LOCK_MS: '120000',
    KAAS_IP_QUARANTINE_SECONDS: '150',
  };
  let p: Platform;
  let stopSecond: () => Promise<void> = async () => undefined;
  const hostIds: Record<string, string> = {};
  const tenants: { client: Client; clusterId: string }[] = [];

  beforeAll(async () => {
    mkdirSync(join(dataDir, 'host'), { recursive: true });
    mkdirSync(join(dataDir, 'host2'), { recursive: true });
    // This process's worker is the first host's (and holds the simulated host, drained below).
    p = await startPlatform({
      ...overrides,
      KAAS_HOST_DATA_DIR: join(dataDir, 'host'),
      KAAS_WORKER_HOSTS: 'sim-1,real-1',
    });
    // The second host's worker runs inside that host's namespace; PostgreSQL and Redis reach it
    // through relays from its loopback to their sockets.
    stopSecond = await second.startWorker({
      ...overrides,
      DATABASE_URL: p.config.databaseUrl,
      REDIS_URL: p.config.redisUrl,
      KAAS_QUEUE_PREFIX: p.config.queuePrefix,
      KAAS_SECRET_KEY: p.config.secretKey.toString('hex'),
      KAAS_ADMIN_TOKEN: p.config.adminToken!,
      KAAS_BUNDLES_DIR: join(ROOT, 'bundles'),
      KAAS_HOST_DATA_DIR: join(dataDir, 'host2'),
      KAAS_WORKER_HOSTS: 'real-2',
      KAAS_LOG_LEVEL: 'warn',
    });
    Object.assign(
      hostIds,
      await useRealHosts(
        p,
        [
          { name: 'real-1', uri: 'qemu:///system' },
          { name: 'real-2', uri: second.uri },
        ],
        imageDir,
      ),
    );
    await p.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.251.9.0/29' });
  });

  afterAll(async () => {
    await stopSecond();
    await p?.close();
  });

  it('runs a cluster of each of two tenants sharing a CIDR, one on each host, with the same address', async () => {
    for (const name of ['same-a', 'same-b']) {
      const client = (await createTenant(p, name)).client;
      const vpc = (await client.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.63.0.0/24' })).body;
      const pool = (await client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 20 })).body;
      const fip = (await client.call('POST', '/v1/floating-ips', {})).body;
      const res = await client.call('POST', '/v1/clusters', {
        name: 'c',
        controlPlane: 'etcd',
        masters: 1,
        workers: 0,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
        vpcId: vpc.id,
        storagePoolId: pool.id,
        floatingIpId: fip.id,
      });
      expect(res.status).toBe(202);
      tenants.push({ client, clusterId: res.body.id });
    }
    for (const t of tenants) {
      await waitFor(
        `cluster ${t.clusterId} to be Running`,
        async () => {
          const c = (await t.client.call('GET', `/v1/clusters/${t.clusterId}`)).body;
          return c.phase === 'Running' && c.nodeCounts.ready === 1;
        },
        900000,
        1000,
      );
    }
    const masters = await Promise.all(
      tenants.map(
        async (t) =>
          (await t.client.call('GET', `/v1/clusters/${t.clusterId}/nodes`)).body.items[0] as {
            id: string;
            hostId: string;
            address: string;
          },
      ),
    );
    // One on each host, both at the VPC's first node address.
    expect(masters.map((m) => m.hostId).sort()).toEqual(Object.values(hostIds).sort());
    expect(masters.map((m) => m.address)).toEqual(['10.63.0.2', '10.63.0.2']);
    // Each guest says so on its console: the first host's console logs are under its
    // /var/log/libvirt, the second's under that host's private one.
    for (const m of masters) {
      const domain = `kaas-node-${m.id}`;
      const log =
        m.hostId === hostIds['real-1']
          ? `/var/log/libvirt/qemu/${domain}.console.log`
          : join(second.dir, 'log', 'qemu', `${domain}.console.log`);
      expect(await consoleText(log)).toMatch(/KAAS_STAGE network-up ip=10\.63\.0\.2(\s|$)/);
    }
    // The same address answers for a different node on each host: each host's worker probed its own.
    const status = async (via: 1 | 2) => {
      const url = 'http://10.63.0.2:8099/status';
      const text =
        via === 1
          ? await (await fetch(url)).text()
          : (await second.exec([process.execPath, '-e', `fetch('${url}').then((r) => r.text()).then(console.log)`]))
              .stdout;
      return (JSON.parse(text) as { details: { nodeId: string } }).details.nodeId;
    };
    const byHost = (name: string) => masters.find((m) => m.hostId === hostIds[name])!.id;
    expect(await status(1)).toBe(byHost('real-1'));
    expect(await status(2)).toBe(byHost('real-2'));
    expect(p.worker.get(HostLeases).ownedHostIds()).toContain(hostIds['real-1']);
    expect(p.worker.get(HostLeases).ownedHostIds()).not.toContain(hostIds['real-2']);
    // Each host's VPC network is its own tenant's: the other tenant's never reached it.
    const onHost2 = masters.find((m) => m.hostId === hostIds['real-2'])!;
    const { stdout } = await run('virsh', ['-c', second.uri, 'list', '--name']);
    expect(stdout.split('\n').filter((n) => n.startsWith('kaas-node-'))).toEqual([`kaas-node-${onHost2.id}`]);
  });

  it('deletes both clusters and leaves nothing on either host', async () => {
    for (const t of tenants) await t.client.call('DELETE', `/v1/clusters/${t.clusterId}`);
    for (const t of tenants)
      await waitFor(
        'the cluster to go',
        async () => (await t.client.call('GET', `/v1/clusters/${t.clusterId}`)).status === 404,
        600000,
        1000,
      );
    for (const uri of ['qemu:///system', second.uri]) {
      const { stdout } = await run('virsh', ['-c', uri, 'list', '--all', '--name']);
      expect(stdout.split('\n').filter((n) => n.startsWith('kaas-node-'))).toEqual([]);
    }
  });
});
