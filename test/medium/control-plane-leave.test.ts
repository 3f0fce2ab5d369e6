import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterSecrets, issueCertificate, type ClusterSecrets } from '../../src/control-plane/cluster-pki.js';
import {
  etcdMemberRemove,
  kubernetesDrain,
  LeaveRefused,
  type LeaveRequest,
} from '../../src/control-plane/control-plane-leave.js';
import { freePort, ROOT, waitFor } from '../support/processes.js';

/**
 * The control-plane leave step against a real etcd cluster: three members with TLS from a
 * cluster CA, on three loopback addresses, run from the etcd bundle's own binary.
 */
describe('etcd member removal against real etcd', () => {
  const names = ['m1', 'm2', 'm3'];
  const ips = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
  const procs = new Map<string, ChildProcess>();
  let dir: string;
  let secrets: ClusterSecrets;
  let clientPort: number;
  let peerPort: number;
  let logs = '';
  const tls = () => ({ caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem });
  const req = (nodeName: string, others: string[]): LeaveRequest => ({
    method: 'etcd-member-remove',
    role: 'master',
    nodeName,
    nodeAddress: ips[names.indexOf(nodeName)],
    otherMasters: others,
    port: clientPort,
    tls: tls(),
    timeoutMs: 5000,
  });
  const memberNames = async (via: string) => {
    const res = await fetchMembers(via);
    return res.map((m) => m.name).sort();
  };
  const fetchMembers = async (via: string): Promise<{ name: string }[]> => {
    const { request } = await import('node:https');
    return new Promise((resolve, reject) => {
      const r = request(
        `https://${via}:${clientPort}/v3/cluster/member/list`,
        { method: 'POST', ca: secrets.caCertPem, cert: secrets.adminCertPem, key: secrets.adminKeyPem, timeout: 5000 },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            try {
              resolve((JSON.parse(text) as { members: { name: string }[] }).members);
            } catch (err) {
              reject(err as Error);
            }
          });
        },
      );
      r.on('timeout', () => r.destroy(new Error('member list: no answer')));
      r.on('error', reject);
      r.end('{}');
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kaas-etcd-leave-'));
    secrets = await createClusterSecrets('leave');
    clientPort = await freePort();
    peerPort = await freePort();
    writeFileSync(join(dir, 'ca.crt'), secrets.caCertPem);
    const initialCluster = names.map((n, i) => `${n}=https://${ips[i]}:${peerPort}`).join(',');
    for (const [i, name] of names.entries()) {
      const cert = await issueCertificate(
        { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
        { commonName: name },
        // peers connect from 127.0.0.1, and etcd checks a peer's address against its certificate
        { server: true, client: true, ips: [ips[i], '127.0.0.1'], dns: [name] },
      );
      writeFileSync(join(dir, `${name}.crt`), cert.certPem);
      writeFileSync(join(dir, `${name}.key`), cert.keyPem, { mode: 0o600 });
      const c = join(dir, `${name}.crt`);
      const k = join(dir, `${name}.key`);
      const ca = join(dir, 'ca.crt');
      const child = spawn(
        join(ROOT, 'bundles', 'etcd', 'artifacts', 'etcd'),
        [
          `--name=${name}`,
          `--data-dir=${join(dir, name)}`,
          `--listen-client-urls=https://${ips[i]}:${clientPort}`,
          `--advertise-client-urls=https://${ips[i]}:${clientPort}`,
          `--listen-peer-urls=https://${ips[i]}:${peerPort}`,
          `--initial-advertise-peer-urls=https://${ips[i]}:${peerPort}`,
          `--initial-cluster=${initialCluster}`,
          '--initial-cluster-state=new',
          '--initial-cluster-token=leave-test',
          '--client-cert-auth',
          `--trusted-ca-file=${ca}`,
          `--cert-file=${c}`,
          `--key-file=${k}`,
          '--peer-client-cert-auth',
          `--peer-trusted-ca-file=${ca}`,
          `--peer-cert-file=${c}`,
          `--peer-key-file=${k}`,
          '--strict-reconfig-check',
          '--log-level=error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
      procs.set(name, child);
    }
    await waitFor('three etcd members', async () => (await memberNames(ips[0])).length === 3, 30000, 300).catch(
      (err: Error) => {
        throw new Error(`${err.message}\netcd said:\n${logs.slice(-3000)}`);
      },
    );
    // every member has a leader
    for (const ip of ips) await waitFor(`member ${ip}`, async () => (await memberNames(ip)).length === 3, 30000, 300);
  }, 60000);

  afterAll(() => {
    for (const p of procs.values()) p.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a removal that would cost quorum, removes a dead member, and is idempotent', async () => {
    // m3 dies; removing the healthy m1 would leave m2 alone with a dead m3: etcd refuses.
    procs.get('m3')!.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 6000)); // etcd's member health interval is 5 s
    await expect(etcdMemberRemove(req('m1', [ips[1]]))).rejects.toBeInstanceOf(LeaveRefused);
    expect(await memberNames(ips[1])).toEqual(['m1', 'm2', 'm3']);

    // The dead m3 can go: the two started members keep their quorum.
    const removed = await etcdMemberRemove(req('m3', [ips[0], ips[1]]));
    expect(removed.changed).toBe(true);
    expect(removed.message).toMatch(/m3/);
    expect(await memberNames(ips[0])).toEqual(['m1', 'm2']);

    // Again: nothing to do. An unreachable first endpoint is skipped for the next one.
    const again = await etcdMemberRemove(req('m3', [ips[2], ips[0]]));
    expect(again).toEqual({ changed: false, message: expect.stringMatching(/not an etcd member/) });
  }, 60000);

  it('removes a live member, which then stops by itself, and never the last one', async () => {
    const res = await etcdMemberRemove(req('m2', [ips[0]]));
    expect(res.changed).toBe(true);
    expect(await memberNames(ips[0])).toEqual(['m1']);
    const m2 = procs.get('m2')!;
    await waitFor('removed m2 to exit', async () => m2.exitCode !== null || m2.signalCode !== null, 20000, 200);
    // m1 is the last member: with nobody else to ask, the step cannot run.
    await expect(etcdMemberRemove(req('m1', [ips[1]]))).rejects.toThrow(/no other master answers/);
  }, 60000);
});

/**
 * The Kubernetes drain (k3s bundle) against a stand-in API server: no k3s can run on these
 * machines, so this checks the requests the platform makes and how it reads the answers.
 */
describe('Kubernetes drain (stand-in API server)', () => {
  let server: Server;
  let port: number;
  let secrets: ClusterSecrets;
  const seen: string[] = [];
  let pdbBlocks = true;
  let nodeExists = true;

  beforeAll(async () => {
    secrets = await createClusterSecrets('drain');
    const serving = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'api' },
      { server: true, ips: ['127.0.0.1'] },
    );
    server = createServer(
      {
        ca: secrets.caCertPem,
        cert: serving.certPem,
        key: serving.keyPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''} ${body}`.trim());
          const send = (status: number, obj: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(obj));
          };
          if (req.url === '/api/v1/nodes/w1' && req.method === 'PATCH')
            return nodeExists ? send(200, { metadata: { name: 'w1' } }) : send(404, { reason: 'NotFound' });
          if (req.url?.startsWith('/api/v1/pods?'))
            return send(200, {
              items: [
                { metadata: { name: 'web-1', namespace: 'default' } },
                { metadata: { name: 'flannel-x', namespace: 'kube-system', ownerReferences: [{ kind: 'DaemonSet' }] } },
                { metadata: { name: 'db-0', namespace: 'prod' } },
              ],
            });
          if (req.url === '/api/v1/namespaces/prod/pods/db-0/eviction')
            return pdbBlocks ? send(429, { reason: 'TooManyRequests' }) : send(201, {});
          if (req.url?.endsWith('/eviction')) return send(201, {});
          if (req.url === '/api/v1/nodes/w1' && req.method === 'DELETE') {
            nodeExists = false;
            return send(200, {});
          }
          send(404, {});
        });
      },
    );
    port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const req = (): LeaveRequest => ({
    method: 'kubernetes-drain',
    role: 'worker',
    nodeName: 'w1',
    nodeAddress: '10.0.0.21',
    otherMasters: ['127.0.0.1'],
    port,
    tls: { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem },
  });

  it('cordons, evicts all but DaemonSet pods, waits on a disruption budget, then deletes the node', async () => {
    await expect(kubernetesDrain(req())).rejects.toBeInstanceOf(LeaveRefused);
    expect(seen[0]).toBe(
      'PATCH /api/v1/nodes/w1 application/strategic-merge-patch+json {"spec":{"unschedulable":true}}',
    );
    expect(seen.some((s) => s.includes('/pods/flannel-x/eviction'))).toBe(false);
    expect(seen.some((s) => s.startsWith('POST /api/v1/namespaces/default/pods/web-1/eviction'))).toBe(true);
    expect(seen.some((s) => s.startsWith('DELETE'))).toBe(false);

    pdbBlocks = false;
    const done = await kubernetesDrain(req());
    expect(done.changed).toBe(true);
    expect(seen.at(-1)).toBe('DELETE /api/v1/nodes/w1');
    // The node is gone now: nothing to do.
    expect((await kubernetesDrain(req())).changed).toBe(false);
  });
});

describe('a hostile control plane', () => {
  let server: Server;
  let port: number;
  let secrets: ClusterSecrets;
  const timers = new Set<NodeJS.Timeout>();

  beforeAll(async () => {
    secrets = await createClusterSecrets('hostile');
    const serving = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'api' },
      { server: true, ips: ['127.0.0.1'] },
    );
    // The node's name is in every drain call's path: it picks how this stand-in misbehaves.
    server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      if (req.url?.includes('/drip')) {
        // Headers at once, then a byte every 200 ms and never the end: no idle timeout fires.
        res.writeHead(200, { 'content-type': 'application/json' });
        const t = setInterval(() => res.write(' '), 200);
        timers.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      if (req.url?.includes('/huge')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.alloc(3 * 1024 * 1024, 0x20));
        return;
      }
      res.writeHead(302, { location: `https://127.0.0.1:${port}/api/v1/nodes/elsewhere` });
      res.end();
    });
    port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
  });
  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const drain = (nodeName: string, over: Partial<LeaveRequest> = {}): LeaveRequest => ({
    method: 'kubernetes-drain',
    role: 'worker',
    nodeName,
    nodeAddress: null,
    otherMasters: ['127.0.0.1'],
    port,
    tls: { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem },
    ...over,
  });

  it('gives up on an answer that drips, within the call deadline', async () => {
    const started = Date.now();
    await expect(kubernetesDrain(drain('drip', { timeoutMs: 1000 }))).rejects.toThrow(
      /no complete answer within 1000 ms/,
    );
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('gives up when the whole leave runs past its budget', async () => {
    const started = Date.now();
    await expect(kubernetesDrain(drain('drip', { timeoutMs: 30000, budgetMs: 800 }))).rejects.toThrow(/within 800 ms/);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('refuses an answer that is too large', async () => {
    await expect(kubernetesDrain(drain('huge'))).rejects.toThrow(/answer larger than 1048576 bytes/);
  });

  it('follows no redirect', async () => {
    await expect(kubernetesDrain(drain('w'))).rejects.toThrow(/cordon w: HTTP 302/);
  });
});
