import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { parse } from 'yaml';
import { mergeKubeconfig } from './cluster-commands.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';

const VPC = '0b7e8a52-3f0c-4c5e-9d2a-7f3c1e0a9b11';
const STORAGE = '1c8f9b63-4a1d-4d6f-8e3b-8a4d2f1b0c22';
const FIP = '2d9a0c74-5b2e-4e7a-9f4c-9b5e3a2c1d33';
const BACKUP = '9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

const addition = `apiVersion: v1
kind: Config
clusters:
- name: kaas-web
  cluster: {server: "https://10.0.0.9:2379"}
users:
- name: kaas-web-admin
  user: {client-key-data: abc}
contexts:
- name: kaas-web
  context: {cluster: kaas-web, user: kaas-web-admin}
current-context: kaas-web
`;

describe('mergeKubeconfig', () => {
  it('adds a context without touching the others or the current context', () => {
    const existing = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://prod:6443"}
users:
- name: me
  user: {token: t}
contexts:
- name: prod
  context: {cluster: prod, user: me}
current-context: prod
`;
    const merged = parse(mergeKubeconfig(existing, addition));
    expect(merged.contexts.map((c: { name: string }) => c.name)).toEqual(['prod', 'kaas-web']);
    expect(merged.clusters.map((c: { name: string }) => c.name)).toEqual(['prod', 'kaas-web']);
    expect(merged.users[0]).toEqual({ name: 'me', user: { token: 't' } });
    expect(merged['current-context']).toBe('prod');
  });

  it('creates a config when there is none, and replaces an entry of the same name', () => {
    const first = mergeKubeconfig(undefined, addition);
    expect(parse(first)['current-context']).toBe('kaas-web');
    const again = parse(mergeKubeconfig(first, addition.replace('10.0.0.9', '10.0.0.10')));
    expect(again.clusters).toHaveLength(1);
    expect(again.clusters[0].cluster.server).toBe('https://10.0.0.9'.replace('9', '10') + ':2379');
  });
});

describe('kaasctl clusters create --restore-from', () => {
  let sent: { method: string; path: string; body: unknown }[];

  beforeEach(() => {
    sent = [];
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const method = init?.method ?? 'GET';
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      sent.push({ method, path: url.pathname, body });
      const json = (b: unknown, status = 200) =>
        new Response(JSON.stringify(b), { status, headers: { 'content-type': 'application/json' } });
      if (method === 'GET' && url.pathname === `/v1/backups/${BACKUP}`)
        return json({
          id: BACKUP,
          clusterName: 'old',
          controlPlane: 'k3s',
          version: 'v1.31.4+k3s1',
          phase: 'Succeeded',
        });
      if (method === 'GET' && url.pathname === '/v1/vpcs') return json({ items: [{ id: VPC, name: 'prod' }] });
      if (method === 'POST' && url.pathname === '/v1/clusters')
        return json(
          {
            id: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
            ...body,
            version: 'v1.31.4+k3s1',
            workers: 2,
            phase: 'Pending',
            endpoint: null,
            nodeCounts: { desired: 3, ready: 0 },
            paused: false,
            usage: null,
            restoredFrom: body.restoreFrom ? { backupId: body.restoreFrom.backupId, restoredAt: null } : null,
          },
          202,
        );
      return json({ message: 'unexpected' }, 500);
    });
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const create = (...args: string[]) =>
    throwOnUsageErrors(kaasctlProgram({})).parseAsync(
      [
        ...['--url', 'http://kaas.test', '--token', 't', 'clusters', 'create', 'again'],
        ...['--vpc', 'prod', '--storage-pool', STORAGE, '--floating-ip', FIP, ...args],
      ],
      { from: 'user' },
    );
  const created = () => sent.find((s) => s.method === 'POST')!.body as Record<string, unknown>;

  it("sends restoreFrom, running the backup's control plane when none is given", async () => {
    await create('--restore-from', BACKUP);
    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual([
      `GET /v1/backups/${BACKUP}`,
      'GET /v1/vpcs',
      'POST /v1/clusters',
    ]);
    expect(created()).toEqual({
      name: 'again',
      controlPlane: 'k3s',
      masters: 1,
      workers: 2,
      nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 },
      vpcId: VPC,
      storagePoolId: STORAGE,
      floatingIpId: FIP,
      restoreFrom: { backupId: BACKUP },
    });
  });

  it('leaves a control plane given as it is, for the API to check against the backup', async () => {
    await create('--restore-from', BACKUP, '--control-plane', 'etcd', '--version', 'v3.5.17');
    expect(sent.map((s) => s.path)).not.toContain(`/v1/backups/${BACKUP}`);
    expect(created()).toEqual(
      expect.objectContaining({ controlPlane: 'etcd', version: 'v3.5.17', restoreFrom: { backupId: BACKUP } }),
    );
  });

  it('sends no restoreFrom without the flag', async () => {
    await create();
    expect(sent.map((s) => s.path)).toEqual(['/v1/vpcs', '/v1/clusters']);
    expect(created()).not.toHaveProperty('restoreFrom');
    expect(created().controlPlane).toBe('etcd');
  });
});
