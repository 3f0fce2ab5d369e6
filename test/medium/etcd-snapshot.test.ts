import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClusterSecrets, issueCertificate, type ClusterSecrets } from '../../src/control-plane/cluster-pki.js';
import { checkEtcdSnapshot, takeEtcdSnapshot } from '../../src/control-plane/etcd-snapshot.js';
import { freePort, ROOT, waitFor } from '../support/processes.js';

const run = promisify(execFile);
const ARTIFACTS = join(ROOT, 'bundles', 'etcd', 'artifacts');

/**
 * A snapshot taken through etcd's JSON gateway from a real etcd (the bundle's own binary, TLS
 * from a cluster CA, client certificates required), checked, and then read and restored by
 * etcdctl: the file is what `etcdctl snapshot save` would have written.
 */
describe('etcd snapshot through the JSON gateway, against real etcd', () => {
  let dir: string;
  let secrets: ClusterSecrets;
  const procs: ChildProcess[] = [];
  let logs = '';
  const tls = () => ({ caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem });
  const file = (name: string) => join(dir, name);
  const etcdctl = async (port: number, args: string[]) =>
    (
      await run(
        join(ARTIFACTS, 'etcdctl'),
        [
          `--endpoints=https://127.0.0.1:${port}`,
          `--cacert=${file('ca.crt')}`,
          `--cert=${file('admin.crt')}`,
          `--key=${file('admin.key')}`,
          '--command-timeout=5s',
          ...args,
        ],
        { timeout: 10000 },
      )
    ).stdout;
  // etcdctl exits non-zero while the member is not healthy (and says so on stderr either way).
  const health = (port: number) => async () => (await etcdctl(port, ['endpoint', 'health']), true);

  /** One member on 127.0.0.1, from `dataDir` (new or restored). */
  const startEtcd = (name: string, dataDir: string, clientPort: number, peerPort: number, fresh: boolean) => {
    const peer = `https://127.0.0.1:${peerPort}`;
    const child = spawn(
      join(ARTIFACTS, 'etcd'),
      [
        `--name=${name}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=https://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=https://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=${peer}`,
        ...(fresh
          ? [
              `--initial-advertise-peer-urls=${peer}`,
              `--initial-cluster=${name}=${peer}`,
              '--initial-cluster-state=new',
            ]
          : []),
        '--client-cert-auth',
        `--trusted-ca-file=${file('ca.crt')}`,
        `--cert-file=${file('node.crt')}`,
        `--key-file=${file('node.key')}`,
        '--peer-client-cert-auth',
        `--peer-trusted-ca-file=${file('ca.crt')}`,
        `--peer-cert-file=${file('node.crt')}`,
        `--peer-key-file=${file('node.key')}`,
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    procs.push(child);
    return child;
  };
  const withLogs = (err: Error) => {
    throw new Error(`${err.message}\netcd said:\n${logs.slice(-3000)}`);
  };

  let port: number;
  const values = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kaas-etcd-snapshot-'));
    secrets = await createClusterSecrets('snapshot');
    // As the seed phase issues a master's certificate: server and client, its addresses as IP SANs.
    const node = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'm1' },
      { server: true, client: true, ips: ['127.0.0.1'], dns: ['m1', 'localhost'] },
    );
    writeFileSync(file('ca.crt'), secrets.caCertPem);
    writeFileSync(file('node.crt'), node.certPem);
    writeFileSync(file('node.key'), node.keyPem, { mode: 0o600 });
    writeFileSync(file('admin.crt'), secrets.adminCertPem);
    writeFileSync(file('admin.key'), secrets.adminKeyPem, { mode: 0o600 });
    port = await freePort();
    startEtcd('m1', file('m1'), port, await freePort(), true);
    await waitFor('etcd to be healthy', health(port), 15000, 200).catch(withLogs);
    // Enough data for the database to cross several of etcd's 32 KiB snapshot chunks.
    for (let i = 0; i < 40; i++) values.set(`/kaas/key-${i}`, `value-${i}-${'x'.repeat(4000)}`);
    values.set('/kaas/plain', 'hello');
    for (const [k, v] of values) await etcdctl(port, ['put', k, v]);
  }, 30000);

  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends the database as newline-separated result objects, then its sha256', async () => {
    const raw = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const r = request(
        `https://127.0.0.1:${port}/v3/maintenance/snapshot`,
        { method: 'POST', ca: secrets.caCertPem, cert: secrets.adminCertPem, key: secrets.adminKeyPem, timeout: 5000 },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
          );
        },
      );
      r.on('timeout', () => r.destroy(new Error('snapshot: no answer')));
      r.on('error', reject);
      r.end('{}');
    });
    expect(raw.status).toBe(200);
    expect(raw.type).toBe('application/json');
    expect(raw.body.endsWith('}\n')).toBe(true);
    const lines = raw.body.split('\n').slice(0, -1);
    const results = lines.map((l) => (JSON.parse(l) as { result: { remaining_bytes?: string; blob: string } }).result);
    expect(results.length).toBeGreaterThan(3);
    // The first announces the rest; a zero remaining_bytes is left out; the last blob is 32 bytes.
    expect(results[0].remaining_bytes).toMatch(/^[1-9][0-9]*$/);
    expect(results.at(-2)!.remaining_bytes).toBeUndefined();
    expect(results.at(-1)).toEqual({ blob: expect.any(String) });
    expect(Buffer.from(results.at(-1)!.blob, 'base64')).toHaveLength(32);
  });

  it('takes a snapshot that etcdctl reads, checks and restores', async () => {
    const started = Date.now();
    const snap = await takeEtcdSnapshot({
      url: `https://127.0.0.1:${port}`,
      tls: tls(),
      maxBytes: 64 * 1024 * 1024,
      timeoutMs: 10000,
      idleMs: 5000,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    const check = checkEtcdSnapshot(snap);
    expect(check).toEqual({ ok: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), dbBytes: snap.length - 32 });

    writeFileSync(file('snap.db'), snap);
    const status = JSON.parse(await etcdctl(port, ['snapshot', 'status', file('snap.db'), '-w', 'json'])) as {
      hash: number;
      revision: number;
      totalKey: number;
      totalSize: number;
    };
    // One revision per put after the first (revision 1 is the empty store).
    expect(status.revision).toBe(values.size + 1);
    expect(status.totalKey).toBeGreaterThanOrEqual(values.size);
    expect(status.totalSize).toBe(snap.length - 32);
    expect(status.hash).toBeGreaterThan(0);

    // A tampered copy: the same shape, but etcdctl's integrity check refuses it, and so does ours.
    const tampered = Buffer.from(snap);
    tampered[tampered.length - 100] ^= 0xff;
    writeFileSync(file('tampered.db'), tampered);
    expect(checkEtcdSnapshot(tampered)).toEqual({ ok: false, reason: expect.stringMatching(/sha256/) });
    await expect(
      run(join(ARTIFACTS, 'etcdctl'), ['snapshot', 'restore', file('tampered.db'), `--data-dir=${file('bad')}`]),
    ).rejects.toThrow(/sha256|hash/i);

    const peerPort = await freePort();
    const clientPort = await freePort();
    await run(join(ARTIFACTS, 'etcdctl'), [
      'snapshot',
      'restore',
      file('snap.db'),
      `--data-dir=${file('restored')}`,
      '--name=r1',
      `--initial-cluster=r1=https://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${peerPort}`,
      '--initial-cluster-token=restored',
    ]);
    startEtcd('r1', file('restored'), clientPort, peerPort, false);
    await waitFor('restored etcd to be healthy', health(clientPort), 15000, 200).catch(withLogs);
    const got = JSON.parse(await etcdctl(clientPort, ['get', '/kaas/', '--prefix', '-w', 'json'])) as {
      kvs: { key: string; value: string }[];
    };
    const restored = new Map(
      got.kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]),
    );
    expect(restored).toEqual(values);
    expect(readFileSync(file('snap.db')).equals(snap)).toBe(true);
  }, 30000);
});
