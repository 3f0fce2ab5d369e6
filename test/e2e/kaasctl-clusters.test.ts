import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { type InstalledKaasctl, installPackedKaasctl } from '../support/kaasctl-package.js';
import { FAST_SIMULATION } from '../support/platform.js';
import { freePort, type Proc, randomEnv, startProcess, waitFor } from '../support/processes.js';
import { Client } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const sh = promisify(execFile);

/**
 * kaasctl as users install it (one file, packed and installed with npm, run outside the
 * checkout) against the real API and worker with a simulated host: contexts by environment,
 * --wait driven by the event stream, --watch, kubeconfig and etcd credentials, shell completion
 * and exit codes.
 */
describe('operating hosts and clusters with the packed kaasctl against the real processes', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let api: Proc;
  let worker: Proc;
  let cli: Record<string, string>;
  let host: LibvirtTestHost;
  let kaasctl: InstalledKaasctl;

  const ok = async (args: string[], extra: Record<string, string> = {}) => {
    const res = await kaasctl.run(args, { ...cli, ...extra });
    if (res.code !== 0) throw new Error(`kaasctl ${args.join(' ')} (exit ${res.code}): ${res.stderr}`);
    return res.stdout;
  };
  const acme = (args: string[]) => ok(['--tenant', 'acme', ...args]);

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { ...randomEnv(db.url, await freePort()), ...FAST_SIMULATION };
    api = startProcess('main.js', env);
    worker = startProcess('worker.js', env);
    kaasctl = await installPackedKaasctl();
    cli = {
      KAAS_URL: `http://127.0.0.1:${env.KAAS_PORT}`,
      KAAS_ADMIN_TOKEN: env.KAAS_ADMIN_TOKEN,
      KUBECONFIG: join(kaasctl.cwd, 'kube', 'config'),
    };
    const admin = new Client(cli.KAAS_URL, env.KAAS_ADMIN_TOKEN);
    await waitFor('the API', async () => (await admin.call('GET', '/readyz')).status === 200, 30000);
    host = await createLibvirtTestHost({ cpus: 32, memoryKiB: 64 * 1024 * 1024 });
  }, 120000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await host?.cleanup();
    await db?.drop();
  });

  it('is one file with no dependency, installed from its tarball', async () => {
    const { stdout } = await sh('tar', ['-tzf', kaasctl.tarball]);
    expect(stdout.trim().split('\n').sort()).toEqual([
      'package/README.md',
      'package/bin/kaasctl.mjs',
      'package/package.json',
    ]);
    const pkg = JSON.parse((await sh('tar', ['-xzOf', kaasctl.tarball, 'package/package.json'])).stdout);
    expect(pkg.dependencies).toBeUndefined();
    expect(await ok(['version'])).toBe(`${JSON.parse(readFileSync('package.json', 'utf8')).version}\n`);
  });

  it('exits 0 when done, 1 when refused or failed, 2 on usage', async () => {
    expect((await kaasctl.run(['--help'], cli)).code).toBe(0);
    const usage = await kaasctl.run(['clusters', 'scale', 'web', '--workers', 'many'], cli);
    expect(usage).toEqual(expect.objectContaining({ code: 2, stderr: expect.stringContaining('--workers') }));
    expect((await kaasctl.run(['no-such-command'], cli)).code).toBe(2);
    const refused = await kaasctl.run(['tenants', 'show', '00000000-0000-4000-8000-000000000000'], cli);
    expect(refused).toEqual(expect.objectContaining({ code: 1, stderr: expect.stringMatching(/^kaasctl: 404: /) }));
    const unreachable = await kaasctl.run(['clusters', 'list'], { ...cli, KAAS_URL: 'http://127.0.0.1:9' });
    expect(unreachable).toEqual(expect.objectContaining({ code: 1, stderr: expect.stringContaining('cannot reach') }));
  });

  it('adds a simulated host and shows it, the name first', async () => {
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
    expect(await ok(['hosts', 'list'])).toMatch(/^NAME\s+STATE\s.*\sAGE\n/);
    expect(await ok(['hosts', 'list', '-o', 'wide'])).toMatch(/sim-a\s+Ready\s.*test:\/\/\/.*\(simulated\)/);
    expect(await ok(['hosts', 'list', '-o', 'name'])).toBe('sim-a\n');
    const bad = await kaasctl.run(['hosts', 'add', 'bad', 'http://example/', '--domain-type', 'qemu'], cli);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400: uri must be a libvirt URI/);
  });

  it('creates, scales and deletes a cluster with --wait, watches it, and writes its credentials', async () => {
    await ok(['tenants', 'create', 'acme']);
    await ok(['floating-ips', 'add-range', '10.245.0.0/28']);
    await acme(['vpcs', 'create', 'prod', '--cidr', '10.1.0.0/24']);
    await acme(['storage-pools', 'create', 'fast', '--capacity-gib', '200']);
    const fip = (await acme(['floating-ips', 'create', '-o', 'name'])).trim();
    const watch = kaasctl.start(['--tenant', 'acme', 'clusters', 'list', '--watch'], cli);

    // --wait returns once the cluster is Running with every node ready: no polling loop here.
    const created = await acme([
      ...['clusters', 'create', 'web', '--vpc', 'prod', '--storage-pool', 'fast', '--floating-ip', fip],
      ...['--workers', '1', '--wait=60', '-o', 'json'],
    ]);
    expect(JSON.parse(created)).toEqual(
      expect.objectContaining({ phase: 'Running', nodeCounts: expect.objectContaining({ desired: 2, ready: 2 }) }),
    );
    const nodes = await acme(['clusters', 'nodes', 'web']);
    expect(nodes.split('\n').filter((l) => /\sReady\s/.test(l))).toHaveLength(2);
    expect(await acme(['clusters', 'events', 'web'])).toContain('PhaseRunning');

    // An etcd cluster: no kubeconfig context (kubectl cannot talk to etcd), but etcdctl's files.
    const merge = await kaasctl.run(['--tenant', 'acme', 'clusters', 'kubeconfig', 'web', '--merge'], cli);
    expect(merge.code).toBe(1);
    expect(merge.stderr).toContain('its endpoint is not a Kubernetes API');
    const written = await acme(['clusters', 'credentials', 'web']);
    const dir = join(kaasctl.cwd, '.config', 'kaas', 'clusters', `127.0.0.1:${env.KAAS_PORT}-acme-web`);
    expect(written).toContain(dir);
    const etcdEnv = readFileSync(join(dir, 'etcdctl.env'), 'utf8');
    expect(etcdEnv).toContain(`export ETCDCTL_ENDPOINTS='https://${fip}:2379'`);
    expect(statSync(join(dir, 'client.key')).mode & 0o777).toBe(0o600);
    // The certificate is the cluster CA's, for a client: openssl reads it, and it chains to the CA.
    await sh('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'client.crt')]);
    const { stdout: sourced } = await sh('bash', ['-c', `. '${join(dir, 'etcdctl.env')}' && echo "$ETCDCTL_KEY"`]);
    expect(sourced.trim()).toBe(join(dir, 'client.key'));

    const scaled = await acme(['clusters', 'scale', 'web', '--workers', '2', '--wait=60']);
    expect(scaled).toMatch(/web\s+Running\s+1\s+2\s+3\/3\s/);
    await acme(['clusters', 'delete', 'web', '--wait=60']);
    expect(await acme(['clusters', 'list', '-o', 'name'])).toBe('');
    expect(await ok(['hosts', 'show', 'sim-a'])).toMatch(/0\/32/);

    // The watch printed the cluster as it changed, and its end.
    await waitFor('the watch to see the end', async () => watch.output().includes('(gone)'), 20000);
    watch.stop();
    const phases = watch
      .output()
      .split('\n')
      .filter((l) => l.startsWith('web '))
      .map((l) => l.split(/\s+/)[1]);
    expect(phases).toEqual(expect.arrayContaining(['Running', '(gone)']));
    expect(phases.indexOf('Running')).toBeLessThan(phases.indexOf('(gone)'));
  }, 180000);

  it('completes commands and resource names in bash', async () => {
    await acme(['vpcs', 'create', 'staging', '--cidr', '10.2.0.0/24']);
    const complete = async (words: string[]) => {
      const script = [
        'source <(kaasctl completion bash)',
        `COMP_WORDS=(kaasctl ${words.map((w) => `'${w}'`).join(' ')})`,
        `COMP_CWORD=${words.length}`,
        '_kaasctl',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      const { stdout } = await sh('bash', ['-c', script], {
        cwd: kaasctl.cwd,
        env: { PATH: kaasctl.path, HOME: kaasctl.cwd, ...cli, KAAS_TENANT: 'acme' },
      });
      return stdout.trim().split('\n').filter(Boolean);
    };
    expect(await complete(['clusters', 'sc'])).toEqual(['scale']);
    expect(await complete(['vpcs', 'delete', ''])).toEqual(['prod', 'staging']);
    expect(await complete(['-o', 'y'])).toEqual(['yaml']);
  });
});
