import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { FAST_SIMULATION } from '../support/platform.js';
import { freePort, kaasctl, type Proc, randomEnv, startProcess, waitFor } from '../support/processes.js';
import { Client } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe('operating hosts and clusters with kaasctl against the real processes', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let api: Proc;
  let worker: Proc;
  let cli: Record<string, string>;
  let host: LibvirtTestHost;
  const home = mkdtempSync(join(tmpdir(), 'kaasctl-home-'));

  const ok = async (args: string[]) => {
    const res = await kaasctl(args, cli);
    if (res.code !== 0) throw new Error(`kaasctl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { ...randomEnv(db.url, await freePort()), ...FAST_SIMULATION };
    api = startProcess('main.js', env);
    worker = startProcess('worker.js', env);
    cli = {
      KAAS_URL: `http://127.0.0.1:${env.KAAS_PORT}`,
      KAAS_ADMIN_TOKEN: env.KAAS_ADMIN_TOKEN,
      HOME: home,
      KUBECONFIG: '',
    };
    const admin = new Client(cli.KAAS_URL, env.KAAS_ADMIN_TOKEN);
    await waitFor('the API', async () => (await admin.call('GET', '/readyz')).status === 200, 30000);
    host = await createLibvirtTestHost({ cpus: 32, memoryKiB: 64 * 1024 * 1024 });
  }, 60000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await host?.cleanup();
    await db?.drop();
  });

  it('adds a simulated host and shows it', async () => {
    const added = JSON.parse(
      await ok(['hosts', 'add', 'sim-a', host.uri, '--domain-type', 'qemu', '--disk-gib', '100', '-o', 'json']),
    );
    expect(added).toEqual(
      expect.objectContaining({
        name: 'sim-a',
        simulated: true,
        chassis: 'sim-a',
        capacity: { cpus: 32, memoryMiB: 65536, diskGiB: 100 },
      }),
    );
    await waitFor('the host to be Ready', async () => (await ok(['hosts', 'list'])).includes('Ready'), 20000);
    expect(await ok(['hosts', 'list'])).toMatch(/sim-a\s+Ready\s+test:\/\/\/.*\(simulated\)/);
    const bad = await kaasctl(['hosts', 'add', 'bad', 'http://example/', '--domain-type', 'qemu'], cli);
    expect(bad.stderr).toMatch(/400: uri must be a libvirt URI/);
  });

  it('creates a cluster, follows it, merges its kubeconfig and sweeps', async () => {
    await ok(['tenants', 'create', 'acme']);
    await ok(['floating-ips', 'add-range', '10.245.0.0/28']);
    await ok(['--tenant', 'acme', 'vpcs', 'create', 'prod', '--cidr', '10.1.0.0/24']);
    await ok(['--tenant', 'acme', 'storage-pools', 'create', 'fast', '--capacity-gib', '200']);
    const fip = JSON.parse(await ok(['--tenant', 'acme', 'floating-ips', 'create', '-o', 'json']));
    const created = JSON.parse(
      await ok([
        '--tenant',
        'acme',
        'clusters',
        'create',
        'web',
        '--vpc',
        'prod',
        '--storage-pool',
        'fast',
        '--floating-ip',
        fip.address,
        '--workers',
        '1',
        '-o',
        'json',
      ]),
    );
    expect(created.phase).toBe('Pending');
    await waitFor(
      'Running',
      async () => (await ok(['--tenant', 'acme', 'clusters', 'list'])).match(/web\s+Running/),
      30000,
    );
    const nodes = await ok(['--tenant', 'acme', 'clusters', 'nodes', 'web']);
    expect(nodes.split('\n').filter((l) => /\sReady\s/.test(l))).toHaveLength(2);
    expect(await ok(['--tenant', 'acme', 'clusters', 'events', 'web'])).toContain('PhaseRunning');

    const kubeconfig = join(home, '.kube', 'config');
    writeFileSync(join(home, 'seed'), '');
    await ok(['--tenant', 'acme', 'clusters', 'kubeconfig', 'web', '--merge']);
    const merged = parse(readFileSync(kubeconfig, 'utf8'));
    expect(merged.contexts.map((c: { name: string }) => c.name)).toEqual(['kaas-web']);
    expect(merged.clusters[0].cluster.server).toBe(`https://${fip.address}:2379`);

    const sweep = await ok(['health', 'run', '-o', 'json']);
    expect(JSON.parse(sweep)).toEqual([expect.objectContaining({ host: 'sim-a', nodes: 2, unhealthy: 0 })]);

    await ok(['--tenant', 'acme', 'clusters', 'scale', 'web', '--workers', '2']);
    await waitFor(
      '3 ready',
      async () => (await ok(['--tenant', 'acme', 'clusters', 'list'])).match(/web\s+Running\s+1\s+2\s+3\/3/),
      30000,
    );
    await ok(['--tenant', 'acme', 'clusters', 'delete', 'web']);
    await waitFor(
      'the cluster to go',
      async () => !(await ok(['--tenant', 'acme', 'clusters', 'list'])).includes('web'),
      30000,
    );
    expect(await ok(['hosts', 'show', 'sim-a'])).toMatch(/0\/32/);
  }, 120000);
});
