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
  const etcdctl = (...args: string[]) => etcdctlAt(floatingIp, etcdDir, ...args);
  const etcdctlAt = (address: string, dir: string, ...args: string[]) => {
    return run(
      'etcdctl',
      [
        `--endpoints=https://${address}:2379`,
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

  /** A folder with the CA, certificate and key of a kubeconfig issued for the cluster. */
  const credentials = async (id: string) => {
    const kube = parse(String((await tenant.call('GET', `/v1/clusters/${id}/kubeconfig`)).body));
    const dir = mkdtempSync(join(tmpdir(), 'etcdctl-'));
    const b64 = (s: string) => Buffer.from(s, 'base64');
    writeFileSync(join(dir, 'ca.crt'), b64(kube.clusters[0].cluster['certificate-authority-data']));
    writeFileSync(join(dir, 'admin.crt'), b64(kube.users[0].user['client-certificate-data']));
    writeFileSync(join(dir, 'admin.key'), b64(kube.users[0].user['client-key-data']));
    return dir;
  };

  it('serves etcdctl through the floating IP with the issued credentials', async () => {
    etcdDir = await credentials(clusterId);
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

  it("backs up through the endpoint, and a restore into a new cluster serves the backup's data", async () => {
    await etcdctl('put', 'backup-key', 'before the backup');
    const t0 = Date.now();
    const taken = await tenant.call('POST', `/v1/clusters/${clusterId}/backups`, {});
    expect(taken.status).toBe(202);
    const backup = await waitFor(
      'the backup',
      async () => {
        const b = (await tenant.call('GET', `/v1/backups/${taken.body.id}`)).body;
        return b.phase === 'Succeeded' || b.phase === 'Failed' ? b : undefined;
      },
      300000,
      1000,
    );
    expect({ phase: backup.phase, message: backup.message }).toEqual({ phase: 'Succeeded', message: null });
    timings.backupSeconds = (Date.now() - t0) / 1000;
    timings.backupBytes = backup.sizeBytes;
    console.log(`backup: ${backup.sizeBytes} bytes in ${timings.backupSeconds} s`);
    // Changed after the backup: the restore must not see it.
    await etcdctl('put', 'backup-key', 'after the backup');

    const fip = (await tenant.call('POST', '/v1/floating-ips', {})).body;
    const source = await cluster();
    const t1 = Date.now();
    const made = await tenant.call('POST', '/v1/clusters', {
      name: 'restored',
      controlPlane: 'etcd',
      masters: 1,
      workers: 0,
      nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
      vpcId,
      storagePoolId: source.storagePoolId,
      floatingIpId: fip.id,
      restoreFrom: { backupId: backup.id },
    });
    expect(made.status).toBe(202);
    const restored = await waitFor(
      'the restored cluster to be Running',
      async () => {
        const c = (await tenant.call('GET', `/v1/clusters/${made.body.id}`)).body;
        return c.phase === 'Running' && c.nodeCounts.ready === 1 ? c : undefined;
      },
      900000,
      1000,
    );
    expect(restored.restoredFrom.restoredAt).not.toBeNull();
    timings.restoreToRunning = (Date.now() - t1) / 1000;
    const dir = await credentials(made.body.id);
    let lastError = '';
    const value = await waitFor(
      'the restored data through the new floating IP',
      async () => {
        try {
          return (await etcdctlAt(fip.address, dir, 'get', 'backup-key', '--print-value-only')).stdout.trim();
        } catch (err) {
          lastError = String((err as { stderr?: string }).stderr ?? err);
          return undefined;
        }
      },
      120000,
      2000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; etcdctl said: ${lastError}`);
    });
    expect(value).toBe('before the backup');
    expect((await etcdctlAt(fip.address, dir, 'get', 'greeting', '--print-value-only')).stdout.trim()).toBe(
      'hello from kaas',
    );
    // A cluster of its own: one member, the new master; the source keeps its newer value.
    const members = (await etcdctlAt(fip.address, dir, 'member', 'list', '-w', 'simple')).stdout.trim().split('\n');
    expect(members).toHaveLength(1);
    expect((await etcdctl('get', 'backup-key', '--print-value-only')).stdout.trim()).toBe('after the backup');
    rmSync(dir, { recursive: true, force: true });

    await tenant.call('DELETE', `/v1/clusters/${made.body.id}`);
    await waitFor(
      'the restored cluster to go',
      async () => (await tenant.call('GET', `/v1/clusters/${made.body.id}`)).status === 404,
      600000,
      1000,
    );
    expect((await tenant.call('DELETE', `/v1/backups/${backup.id}`)).status).toBe(204);
    expect((await tenant.call('DELETE', `/v1/floating-ips/${fip.id}`)).status).toBe(204);
  });

  it('upgrades etcd 3.4.23 to 3.5.16 master by master, keeping its data and its endpoint answering', async () => {
    const versions = (await tenant.call('GET', '/v1/control-planes')).body.items.find(
      (b: { name: string }) => b.name === 'etcd',
    ).versions as { version: string; available: boolean; upgradeFrom: string[] }[];
    expect(versions.find((v) => v.version === 'v3.5.16')).toMatchObject({ available: true, upgradeFrom: ['v3.4.23'] });
    await etcdctl('put', 'upgrade-key', 'written on 3.4');
    const t0 = Date.now();
    const patched = await tenant.call('PATCH', `/v1/clusters/${clusterId}`, { version: 'v3.5.16' });
    expect(patched.status).toBe(202);
    // etcdctl endpoint health through the floating IP, once a second, until every node runs 3.5.
    let checks = 0;
    let failures = 0;
    let longestOutageMs = 0;
    let outageStart: number | undefined;
    let done = false;
    const deadline = Date.now() + 1500000;
    while (!done && Date.now() < deadline) {
      const s0 = Date.now();
      checks++;
      try {
        await etcdctlAt(floatingIp, etcdDir, 'endpoint', 'health', '--command-timeout=3s');
        if (outageStart !== undefined) longestOutageMs = Math.max(longestOutageMs, Date.now() - outageStart);
        outageStart = undefined;
      } catch {
        failures++;
        outageStart ??= s0;
      }
      if (checks % 5 === 0) {
        const c = await cluster();
        const ns = await nodes();
        done =
          c.phase === 'Running' &&
          ns.length === 4 &&
          ns.every((n) => (n as unknown as { version: string }).version === 'v3.5.16' && n.phase === 'Ready');
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - s0))));
    }
    timings.upgradeSeconds = (Date.now() - t0) / 1000;
    timings.upgradeLongestOutageSeconds = longestOutageMs / 1000;
    console.log(
      `upgrade 3.4.23 -> 3.5.16: ${timings.upgradeSeconds} s, ${checks} health checks, ${failures} failed, longest outage ${longestOutageMs} ms`,
    );
    expect(done).toBe(true);
    // At most one election's worth of failed checks (a leader leaving).
    expect(failures).toBeLessThanOrEqual(3);
    expect((await etcdctl('get', 'upgrade-key', '--print-value-only')).stdout.trim()).toBe('written on 3.4');
    expect((await etcdctl('get', 'greeting', '--print-value-only')).stdout.trim()).toBe('hello from kaas');
    const status = JSON.parse((await etcdctl('endpoint', 'status', '-w', 'json')).stdout) as {
      Status: { version: string };
    }[];
    expect(status[0].Status.version).toBe('3.5.16');
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
