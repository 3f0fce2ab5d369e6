import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { ApiError } from './api-client.js';
import { mergeKubeconfig } from './credentials.js';
import { ROLLOUT_WAIT_SECONDS } from './rollout-wait.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';
import { onFakeClock } from '../../test/support/fake-clock.js';

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
    const merged = parse(mergeKubeconfig(existing, addition).text);
    expect(merged.contexts.map((c: { name: string }) => c.name)).toEqual(['prod', 'kaas-web']);
    expect(merged.clusters.map((c: { name: string }) => c.name)).toEqual(['prod', 'kaas-web']);
    expect(merged.users[0]).toEqual({ name: 'me', user: { token: 't' } });
    expect(merged['current-context']).toBe('prod');
  });

  it('creates a config when there is none, and replaces an entry of the same name', () => {
    const first = mergeKubeconfig(undefined, addition).text;
    expect(parse(first)['current-context']).toBe('kaas-web');
    const again = parse(mergeKubeconfig(first, addition.replace('10.0.0.9', '10.0.0.10')).text);
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

describe('kaasctl clusters versions, upgrade and rotate-certificates', () => {
  const CLUSTER = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
  type Condition = { type: string; status: string; reason: string; message: string };
  const upToDate = (status: string, reason: string, message: string): Condition => ({
    type: 'UpToDate',
    status,
    reason,
    message,
  });
  const AT_VERSION = upToDate('True', 'AtDeclaredVersion', 'every node runs the declared version');
  const cluster = (over: Record<string, unknown> = {}) => ({
    id: CLUSTER,
    name: 'web',
    controlPlane: 'etcd',
    version: 'v3.4.23',
    masters: 1,
    workers: 2,
    workerPools: [],
    phase: 'Running',
    endpoint: 'https://10.0.0.9:2379',
    nodeCounts: { desired: 3, ready: 3 },
    paused: false,
    usage: null,
    conditions: [AT_VERSION],
    generation: 4,
    observedGeneration: 4,
    ...over,
  });
  const node = (id: string, version: string, certificateExpiresAt: string | null = null) => ({
    id,
    name: `web-${id}`,
    role: 'worker',
    version,
    certificateExpiresAt,
  });

  let sent: { method: string; path: string; body: unknown }[];
  let printed: string;
  let progress: string;
  /** What each GET of the cluster answers, in turn; the last one again and again. */
  let polls: ReturnType<typeof cluster>[];
  /** What each GET of the nodes answers, in turn; the last one again and again. */
  let nodePolls: ReturnType<typeof node>[][];
  let writeAnswer: { status: number; body: unknown };

  beforeEach(() => {
    sent = [];
    printed = '';
    progress = '';
    polls = [cluster()];
    nodePolls = [[node('a', 'v3.4.23')]];
    writeAnswer = { status: 202, body: cluster() };
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const method = init?.method ?? 'GET';
      sent.push({ method, path: url.pathname, body: init?.body ? JSON.parse(String(init.body)) : undefined });
      const json = (b: unknown, status = 200) =>
        new Response(JSON.stringify(b), { status, headers: { 'content-type': 'application/json' } });
      const next = <T>(list: T[]) => (list.length > 1 ? list.shift()! : list[0]);
      if (method === 'GET' && url.pathname === '/v1/clusters') return json({ items: [cluster()] });
      if (method === 'GET' && url.pathname === `/v1/clusters/${CLUSTER}`) return json(next(polls));
      if (method === 'GET' && url.pathname === `/v1/clusters/${CLUSTER}/nodes`) return json({ items: next(nodePolls) });
      if (method === 'GET' && url.pathname === '/v1/control-planes')
        return json({
          items: [
            { name: 'k3s', versions: [{ version: 'v1.31.4+k3s1', available: true, upgradeFrom: [] }] },
            {
              name: 'etcd',
              versions: [
                { version: 'v3.4.23', available: true, upgradeFrom: [] },
                { version: 'v3.5.16', available: true, upgradeFrom: ['v3.4.23'] },
                { version: 'v3.5.17', available: false, upgradeFrom: ['v3.4.23', 'v3.5.16'] },
                { version: 'v3.6.0', available: true, upgradeFrom: ['v3.5.16'] },
              ],
            },
          ],
        });
      if (method === 'PATCH' || method === 'POST') return json(writeAnswer.body, writeAnswer.status);
      return json({ message: 'unexpected' }, 500);
    });
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      progress += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const run = (...args: string[]) =>
    throwOnUsageErrors(kaasctlProgram({})).parseAsync(['--url', 'http://kaas.test', '--token', 't', ...args], {
      from: 'user',
    });
  // The event stream is opened by every wait; these tests have none (the fake API refuses it).
  const calls = () => sent.filter((s) => s.path !== '/v1/events/stream').map((s) => `${s.method} ${s.path}`);
  const writes = () => sent.filter((s) => s.method !== 'GET');
  // Node may print its own warnings on stderr while the tests run; those are not kaasctl's.
  const progressLines = () => progress.split('\n').filter((line) => line.startsWith('cluster '));
  const rows = () =>
    printed
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s{2,}/));

  /** Fake milliseconds from the start of `runWaiting` to the end of kaasctl. */
  let waited: number;

  /** Runs kaasctl on fake timers, a second at a time, until it ends (--wait looks every second). */
  const runWaiting = (...args: string[]): Promise<Command> =>
    onFakeClock(
      () => run(...args),
      2 * ROLLOUT_WAIT_SECONDS,
      (ms) => (waited = ms),
    );

  it("lists the bundle's versions, saying which ones an upgrade reaches from the cluster's version", async () => {
    await run('clusters', 'versions', 'web');
    expect(calls()).toEqual(['GET /v1/clusters', `GET /v1/clusters/${CLUSTER}`, 'GET /v1/control-planes']);
    expect(rows()).toEqual([
      ['VERSION', 'REACHABLE', 'AVAILABLE', 'UPGRADE FROM'],
      ['v3.4.23', 'current', 'yes', '-'],
      ['v3.5.16', 'yes', 'yes', 'v3.4.23'],
      ['v3.5.17', 'no', 'no (not installed)', 'v3.4.23,v3.5.16'],
      ['v3.6.0', 'no', 'yes', 'v3.5.16'],
    ]);
  });

  it('marks reachability from the version the cluster runs now, in JSON too', async () => {
    polls = [cluster({ version: 'v3.5.16' })];
    await run('-o', 'json', 'clusters', 'versions', CLUSTER);
    expect(calls()).toEqual([`GET /v1/clusters/${CLUSTER}`, 'GET /v1/control-planes']);
    expect(
      (JSON.parse(printed) as { version: string; current: boolean; reachable: boolean }[]).map((v) => [
        v.version,
        v.current,
        v.reachable,
      ]),
    ).toEqual([
      ['v3.4.23', false, false],
      ['v3.5.16', true, false],
      ['v3.5.17', false, false],
      ['v3.6.0', false, true],
    ]);
  });

  it('says so when the platform no longer offers the bundle of the cluster', async () => {
    polls = [cluster({ controlPlane: 'gone' })];
    await expect(run('clusters', 'versions', 'web')).rejects.toThrow(
      'the platform offers no bundle gone (the bundle of web)',
    );
    expect(printed).toBe('');
  });

  it('upgrades with a PATCH of the version and prints the cluster as the API answered, without waiting', async () => {
    writeAnswer = { status: 202, body: cluster({ version: 'v3.5.16', generation: 5 }) };
    await run('clusters', 'upgrade', 'web', 'v3.5.16');
    expect(writes()).toEqual([{ method: 'PATCH', path: `/v1/clusters/${CLUSTER}`, body: { version: 'v3.5.16' } }]);
    expect(calls()).toEqual(['GET /v1/clusters', `PATCH /v1/clusters/${CLUSTER}`]);
    expect(rows()[1]).toEqual(expect.arrayContaining(['web', 'Running', 'etcd v3.5.16']));
    expect(progressLines()).toEqual([]);
  });

  it("gives the API's refusal of a version it cannot reach", async () => {
    writeAnswer = {
      status: 422,
      body: { statusCode: 422, message: 'version: bundle etcd cannot go from v3.4.23 to v3.6.0', requestId: 'r1' },
    };
    const refused = run('clusters', 'upgrade', 'web', 'v3.6.0', '--wait');
    await expect(refused).rejects.toThrow(ApiError);
    await expect(refused).rejects.toThrow('422: version: bundle etcd cannot go from v3.4.23 to v3.6.0 (request r1)');
    expect(calls()).toEqual(['GET /v1/clusters', `PATCH /v1/clusters/${CLUSTER}`]);
  });

  it('with --wait, waits for the request to be taken up, the roll, every node at the version and Running', async () => {
    const declared = { version: 'v3.5.16', generation: 5 };
    // The answer still shows the cluster as it was: Running and up to date, at generation 4.
    writeAnswer = { status: 202, body: cluster(declared) };
    polls = [
      cluster({ ...declared, observedGeneration: 4 }),
      cluster({
        ...declared,
        observedGeneration: 5,
        phase: 'Updating',
        conditions: [upToDate('False', 'Upgrading', '1/3 nodes at the declared version and certificates')],
      }),
      cluster({
        ...declared,
        observedGeneration: 5,
        phase: 'Updating',
        conditions: [
          upToDate('False', 'UpgradeWaiting', '2/3 nodes at the declared version; waiting for 1 ready masters'),
        ],
      }),
      cluster({ ...declared, observedGeneration: 5 }),
    ];
    nodePolls = [
      [node('a', 'v3.4.23'), node('b', 'v3.5.16')],
      [node('b', 'v3.5.16'), node('c', 'v3.5.16')],
    ];
    await runWaiting('-o', 'json', 'clusters', 'upgrade', 'web', 'v3.5.16', '--wait');
    expect(writes()).toEqual([{ method: 'PATCH', path: `/v1/clusters/${CLUSTER}`, body: { version: 'v3.5.16' } }]);
    expect(calls()).toEqual([
      'GET /v1/clusters',
      `PATCH /v1/clusters/${CLUSTER}`,
      ...Array(4).fill(`GET /v1/clusters/${CLUSTER}`),
      `GET /v1/clusters/${CLUSTER}/nodes`,
      `GET /v1/clusters/${CLUSTER}`,
      `GET /v1/clusters/${CLUSTER}/nodes`,
    ]);
    expect(JSON.parse(printed)).toEqual(expect.objectContaining({ version: 'v3.5.16', phase: 'Running' }));
    expect(progressLines()).toEqual([
      'cluster web: Running, the request not yet taken up',
      'cluster web: Updating; 1/3 nodes at the declared version and certificates',
      'cluster web: Updating; 2/3 nodes at the declared version; waiting for 1 ready masters',
      'cluster web: Running; every node runs the declared version; 1 node(s) not yet at v3.5.16',
    ]);
  });

  it('with --wait, stops with the UpToDate message when the cluster is not up to date for another reason', async () => {
    writeAnswer = { status: 202, body: cluster({ version: 'v3.5.16', generation: 5 }) };
    polls = [
      cluster({
        version: 'v3.5.16',
        generation: 5,
        observedGeneration: 5,
        phase: 'Degraded',
        conditions: [upToDate('False', 'ArtifactsMissing', 'bundle etcd v3.5.16 is not installed on host kvm-01')],
      }),
    ];
    await expect(runWaiting('clusters', 'upgrade', 'web', 'v3.5.16', '--wait=60')).rejects.toThrow(
      'cluster web is not up to date (ArtifactsMissing): bundle etcd v3.5.16 is not installed on host kvm-01',
    );
    // The cluster is printed as it was last seen.
    expect(rows()[1]).toEqual(expect.arrayContaining(['web', 'Degraded']));
    expect(calls().filter((c) => c.endsWith('/nodes'))).toEqual([]);
  });

  it('with --wait, stops when the cluster is Failed, and not for a condition from before the request', async () => {
    writeAnswer = {
      status: 202,
      body: cluster({ generation: 5, conditions: [upToDate('False', 'SomethingOld', 'from before')] }),
    };
    polls = [cluster({ generation: 5, observedGeneration: 5, phase: 'Failed' })];
    await expect(runWaiting('clusters', 'rotate-certificates', 'web', '--wait')).rejects.toThrow(
      'cluster web is Failed',
    );
    expect(calls()).toEqual([
      'GET /v1/clusters',
      `POST /v1/clusters/${CLUSTER}/rotate-certificates`,
      `GET /v1/clusters/${CLUSTER}`,
    ]);
  });

  it('gives up waiting after the seconds given, saying the roll goes on', async () => {
    writeAnswer = { status: 202, body: cluster({ version: 'v3.5.16', generation: 5 }) };
    polls = [
      cluster({
        version: 'v3.5.16',
        generation: 5,
        observedGeneration: 5,
        phase: 'Updating',
        conditions: [upToDate('False', 'Upgrading', '0/3 nodes at the declared version and certificates')],
      }),
    ];
    await expect(runWaiting('clusters', 'upgrade', 'web', 'v3.5.16', '--wait=3')).rejects.toThrow(
      'cluster web is still Updating after 3 s; the roll goes on: see kaasctl clusters events web',
    );
    expect(waited).toBe(3000);
    expect(printed).toBe('');
  });

  it(`waits ${ROLLOUT_WAIT_SECONDS} s when --wait has no number, and refuses one that is not a number of seconds`, async () => {
    for (const bad of ['--wait=soon', '--wait=0'])
      await expect(run('clusters', 'rotate-certificates', 'web', bad)).rejects.toThrow(
        `--wait must be a whole number of seconds (at least 1), got "${bad.slice(7)}"`,
      );
    expect(sent).toEqual([]);
    writeAnswer = { status: 202, body: cluster({ generation: 5 }) };
    polls = [cluster({ generation: 5, observedGeneration: 4 })];
    await expect(runWaiting('clusters', 'rotate-certificates', 'web', '--wait')).rejects.toThrow(
      `after ${ROLLOUT_WAIT_SECONDS} s`,
    );
    expect(waited).toBe(ROLLOUT_WAIT_SECONDS * 1000);
  });

  it("lists the nodes with each one's version and certificate expiry", async () => {
    nodePolls = [[node('a', 'v3.4.23', '2027-12-07T00:00:00.000Z')]];
    await run('-o', 'wide', 'clusters', 'nodes', 'web');
    const [header, row] = rows();
    expect(row[header.indexOf('VERSION')]).toBe('v3.4.23');
    expect(row[header.indexOf('CERT EXPIRES')]).toBe('2027-12-07T00:00:00.000Z');
  });

  it('rotates the certificates with a POST of {} and prints the cluster, without waiting', async () => {
    writeAnswer = { status: 202, body: cluster({ generation: 5 }) };
    await run('-o', 'wide', 'clusters', 'rotate-certificates', 'web');
    expect(writes()).toEqual([{ method: 'POST', path: `/v1/clusters/${CLUSTER}/rotate-certificates`, body: {} }]);
    expect(rows()[0]).toEqual(expect.arrayContaining(['ID', 'NAME', 'PHASE']));
    expect(rows()[1]).toEqual(expect.arrayContaining([CLUSTER, 'web', 'Running']));
  });

  it('with --wait, rotates until the request is taken up, the cluster Running and UpToDate True, asking no nodes', async () => {
    writeAnswer = { status: 202, body: cluster({ generation: 5 }) };
    polls = [
      cluster({
        generation: 5,
        observedGeneration: 5,
        phase: 'Updating',
        conditions: [upToDate('False', 'Upgrading', '0/3 nodes at the declared version and certificates')],
      }),
      cluster({ generation: 5, observedGeneration: 5, phase: 'Updating', conditions: [AT_VERSION] }),
      cluster({ generation: 6, observedGeneration: 6 }),
    ];
    await runWaiting('-o', 'json', 'clusters', 'rotate-certificates', 'web', '--wait=120');
    expect(calls()).toEqual([
      'GET /v1/clusters',
      `POST /v1/clusters/${CLUSTER}/rotate-certificates`,
      ...Array(3).fill(`GET /v1/clusters/${CLUSTER}`),
    ]);
    expect(JSON.parse(printed)).toEqual(expect.objectContaining({ phase: 'Running', observedGeneration: 6 }));
    expect(progressLines()).toEqual([
      'cluster web: Running, the request not yet taken up',
      'cluster web: Updating; 0/3 nodes at the declared version and certificates',
      'cluster web: Updating; every node runs the declared version',
    ]);
  });
});
