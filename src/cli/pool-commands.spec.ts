import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Command } from 'commander';
import type { Schemas } from '../api/client.js';
import { ApiError } from './api-client.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';
import { autoscaleOption, labelOption, poolOption, taintOption } from './pool-commands.js';

type WorkerPool = Schemas['WorkerPoolResponse'];

const CLUSTER = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const VPC = '0b7e8a52-3f0c-4c5e-9d2a-7f3c1e0a9b11';
const STORAGE = '1c8f9b63-4a1d-4d6f-8e3b-8a4d2f1b0c22';
const FIP = '2d9a0c74-5b2e-4e7a-9f4c-9b5e3a2c1d33';

describe('pool flag parsers', () => {
  it('collects --label key=value, keeping an empty value and refusing a key twice or no "="', () => {
    const label = labelOption();
    expect(label('tier=gpu', label('example.com/zone=', undefined))).toEqual({ 'example.com/zone': '', tier: 'gpu' });
    expect(() => label('tier', undefined)).toThrow('--label must be key=value, got "tier"');
    expect(() => label('=gpu', undefined)).toThrow('--label must be key=value, got "=gpu"');
    expect(() => label('tier=cpu', { tier: 'gpu' })).toThrow('--label gives the key "tier" twice');
  });

  it('collects --taint key[=value]:Effect and names the effects when one is wrong', () => {
    const taint = taintOption();
    expect(taint('example.com/spot:PreferNoSchedule', taint('dedicated=gpu:NoSchedule', undefined))).toEqual([
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'example.com/spot', effect: 'PreferNoSchedule' },
    ]);
    expect(taint('dedicated=:NoExecute', undefined)).toEqual([{ key: 'dedicated', effect: 'NoExecute' }]);
    for (const bad of ['dedicated', 'dedicated=gpu', 'dedicated:Sometimes', ':NoSchedule', '=gpu:NoSchedule'])
      expect(() => taint(bad, undefined)).toThrow(
        `--taint must be key[=value]:Effect (Effect one of NoSchedule, PreferNoSchedule, NoExecute), got "${bad}"`,
      );
    expect(() => taint('a:NoSchedule', [{ key: 'a', value: 'x', effect: 'NoSchedule' }])).toThrow(
      '--taint gives a:NoSchedule twice',
    );
  });

  it('parses --autoscale min:max:cpu[:cooldown] and refuses what the API would', () => {
    const autoscale = autoscaleOption();
    expect(autoscale('1:5:70', undefined)).toEqual({ minCount: 1, maxCount: 5, targetCpuPercent: 70 });
    expect(autoscale('0:3:50:300', undefined)).toEqual({
      minCount: 0,
      maxCount: 3,
      targetCpuPercent: 50,
      cooldownSeconds: 300,
    });
    for (const bad of ['1:5', '1:5:70:1:1', '1:x:70', '-1:5:70', ''])
      expect(() => autoscale(bad, undefined)).toThrow(`--autoscale must be min:max:targetCpuPercent`);
    expect(() => autoscale('5:1:70', undefined)).toThrow('--autoscale: min (5) must not exceed max (1)');
    expect(() => autoscale('1:5:0', undefined)).toThrow('--autoscale: targetCpuPercent must be 1 to 100, got 0');
    expect(() => autoscale('1:5:70', { minCount: 1, maxCount: 2, targetCpuPercent: 3 })).toThrow(
      '--autoscale is given twice',
    );
  });

  it('parses --pool name:count[:vcpus:memoryMiB:diskGiB], repeatable, each name once', () => {
    const pool = poolOption();
    expect(pool('gpu:1:8:16384:100', pool('general:2', undefined))).toEqual([
      { name: 'general', count: 2 },
      { name: 'gpu', count: 1, nodeSpec: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 } },
    ]);
    for (const bad of ['general', 'general:two', ':2', 'gpu:1:8', 'gpu:1:8:16384', 'gpu:1:8:16384:100:1'])
      expect(() => pool(bad, undefined)).toThrow(
        `--pool must be name:count or name:count:vcpus:memoryMiB:diskGiB in whole numbers, got "${bad}"`,
      );
    expect(() => pool('general:3', [{ name: 'general', count: 2 }])).toThrow('--pool names the pool "general" twice');
  });
});

interface Sent {
  method: string;
  path: string;
  body: unknown;
}

/** kaasctl as cli.ts builds it, its usage errors thrown and kept. */
function kaasctl(errors: string[]): Command {
  return throwOnUsageErrors(kaasctlProgram({}), errors);
}

const gpu: WorkerPool = {
  name: 'gpu',
  count: 2,
  nodeSpec: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 },
  labels: { tier: 'gpu', 'example.com/zone': 'a' },
  taints: [
    { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
    { key: 'spot', effect: 'PreferNoSchedule' },
  ],
  autoscale: { minCount: 1, maxCount: 4, targetCpuPercent: 70 },
  nodeCounts: { desired: 2, ready: 1 },
};
const general: WorkerPool = {
  name: 'general',
  count: 3,
  nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 },
  labels: {},
  taints: [],
  nodeCounts: { desired: 3, ready: 3 },
};

describe('kaasctl clusters pools and clusters create --pool', () => {
  let sent: Sent[];
  let printed: string;
  let usageErrors: string[];
  let answer: { status: number; body: unknown } | undefined;

  beforeEach(() => {
    sent = [];
    printed = '';
    usageErrors = [];
    answer = undefined;
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const method = init?.method ?? 'GET';
      sent.push({ method, path: url.pathname, body: init?.body ? JSON.parse(String(init.body)) : undefined });
      const json = (body: unknown, status = 200) =>
        new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (answer) return json(answer.body, answer.status);
      const cluster = {
        id: CLUSTER,
        name: 'web',
        controlPlane: 'etcd',
        version: 'v3.5.17',
        masters: 1,
        workers: 5,
        workerPools: [general, gpu],
        nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 },
        phase: 'Running',
        endpoint: null,
        nodeCounts: { desired: 6, ready: 5 },
        paused: false,
        usage: null,
      };
      if (method === 'GET' && url.pathname === '/v1/clusters') return json({ items: [cluster] });
      if (method === 'GET' && url.pathname === `/v1/clusters/${CLUSTER}`) return json(cluster);
      if (method === 'GET' && url.pathname === `/v1/clusters/${CLUSTER}/pools`) return json({ items: [general, gpu] });
      if (method === 'GET' && url.pathname.startsWith(`/v1/clusters/${CLUSTER}/pools/`)) return json(gpu);
      if (method === 'GET' && url.pathname === '/v1/vpcs') return json({ items: [{ id: VPC, name: 'prod' }] });
      if (method === 'GET' && url.pathname === '/v1/storage-pools')
        return json({ items: [{ id: STORAGE, name: 'fast' }] });
      if (method === 'POST' && url.pathname === '/v1/clusters') return json(cluster, 202);
      if (method === 'POST' || method === 'PATCH') return json({ ...gpu, ...JSON.parse(String(init!.body)) }, 202);
      if (method === 'DELETE') return json({ ...gpu, count: 0 }, 202);
      return json({ message: 'unexpected' }, 500);
    });
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const run = (...args: string[]) =>
    kaasctl(usageErrors).parseAsync(['--url', 'http://kaas.test', '--token', 't', ...args], { from: 'user' });
  const writes = () => sent.filter((s) => s.method !== 'GET');

  it("lists a cluster's pools by the cluster's name as a table", async () => {
    await run('clusters', 'pools', 'list', 'web');
    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /v1/clusters', `GET /v1/clusters/${CLUSTER}/pools`]);
    const [header, first, second] = printed.trimEnd().split('\n');
    expect(header.split(/\s{2,}/)).toEqual([
      'NAME',
      'COUNT',
      'READY',
      'VCPUS',
      'MEMORY',
      'DISK',
      'LABELS',
      'TAINTS',
      'AUTOSCALE',
    ]);
    expect(first.split(/\s{2,}/)).toEqual(['general', '3', '3/3', '2', '2048Mi', '20Gi', '-', '-', '-']);
    expect(second.split(/\s{2,}/)).toEqual([
      'gpu',
      '2',
      '1/2',
      '8',
      '16384Mi',
      '100Gi',
      'tier=gpu,example.com/zone=a',
      'dedicated=gpu:NoSchedule,spot:PreferNoSchedule',
      '1-4 at 70% CPU',
    ]);
  });

  it('prints JSON or bare names with -o, and takes a cluster id as it is', async () => {
    await run('-o', 'json', 'clusters', 'pools', 'list', CLUSTER);
    expect(sent.map((s) => s.path)).toEqual([`/v1/clusters/${CLUSTER}/pools`]);
    expect(JSON.parse(printed)).toEqual([general, gpu]);
    printed = '';
    await run('-o', 'name', 'clusters', 'pools', 'list', CLUSTER);
    expect(printed).toBe('general\ngpu\n');
  });

  it('adds a pool with its size, labels, taints and autoscaling', async () => {
    await run(
      ...['clusters', 'pools', 'add', 'web', 'gpu', '--count', '2', '--vcpus', '8', '--memory-mib', '16384'],
      ...['--disk-gib', '100', '--label', 'tier=gpu', '--label', 'example.com/zone=a'],
      ...['--taint', 'dedicated=gpu:NoSchedule', '--taint', 'spot:PreferNoSchedule', '--autoscale', '1:4:70'],
    );
    expect(writes()).toEqual([
      {
        method: 'POST',
        path: `/v1/clusters/${CLUSTER}/pools`,
        body: {
          name: 'gpu',
          count: 2,
          nodeSpec: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 },
          labels: { tier: 'gpu', 'example.com/zone': 'a' },
          taints: [
            { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
            { key: 'spot', effect: 'PreferNoSchedule' },
          ],
          autoscale: { minCount: 1, maxCount: 4, targetCpuPercent: 70 },
        },
      },
    ]);
    expect(printed).toMatch(/^NAME\s+COUNT/);
  });

  it("adds a pool of the cluster's size, or completes a partial size from the cluster's", async () => {
    await run('clusters', 'pools', 'add', CLUSTER, 'more', '--count', '1');
    expect(sent).toEqual([{ method: 'POST', path: `/v1/clusters/${CLUSTER}/pools`, body: { name: 'more', count: 1 } }]);
    sent = [];
    await run('clusters', 'pools', 'add', CLUSTER, 'big', '--count', '1', '--vcpus', '16');
    expect(writes()).toEqual([
      {
        method: 'POST',
        path: `/v1/clusters/${CLUSTER}/pools`,
        body: { name: 'big', count: 1, nodeSpec: { vcpus: 16, memoryMiB: 2048, diskGiB: 20 } },
      },
    ]);
  });

  it('refuses add without --count, or with a flag it cannot read, naming the flag and sending nothing', async () => {
    await expect(run('clusters', 'pools', 'add', 'web', 'gpu')).rejects.toThrow(/--count/);
    expect(usageErrors.join('')).toMatch(/required option '--count <n>' not specified/);
    await expect(run('clusters', 'pools', 'add', 'web', 'gpu', '--count', 'two')).rejects.toThrow(
      '--count must be a whole number, got "two"',
    );
    await expect(run('clusters', 'pools', 'add', 'web', 'gpu', '--count', '1', '--taint', 'gpu')).rejects.toThrow(
      '--taint must be key[=value]:Effect',
    );
    expect(sent).toEqual([]);
  });

  it('scales a pool, and refuses a count that is not a whole number', async () => {
    await run('clusters', 'pools', 'scale', 'web', 'gpu', '5');
    expect(writes()).toEqual([{ method: 'PATCH', path: `/v1/clusters/${CLUSTER}/pools/gpu`, body: { count: 5 } }]);
    sent = [];
    await expect(run('clusters', 'pools', 'scale', 'web', 'gpu', '-1')).rejects.toThrow();
    await expect(run('clusters', 'pools', 'scale', 'web', 'gpu', 'many')).rejects.toThrow(
      '<count> must be a whole number, got "many"',
    );
    expect(sent).toEqual([]);
  });

  it('sets labels, clears taints and turns autoscaling off in one PATCH', async () => {
    await run('clusters', 'pools', 'set', 'web', 'gpu', '--label', 'tier=big', '--clear-taints', '--no-autoscale');
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        path: `/v1/clusters/${CLUSTER}/pools/gpu`,
        body: { labels: { tier: 'big' }, taints: [], autoscale: null },
      },
    ]);
    sent = [];
    await run(
      'clusters',
      'pools',
      'set',
      'web',
      'gpu',
      '--clear-labels',
      '--taint',
      'a:NoExecute',
      '--autoscale',
      '2:6:60',
    );
    expect(writes()[0].body).toEqual({
      labels: {},
      taints: [{ key: 'a', effect: 'NoExecute' }],
      autoscale: { minCount: 2, maxCount: 6, targetCpuPercent: 60 },
    });
  });

  it('refuses set with nothing to change or with flags that contradict each other', async () => {
    await expect(run('clusters', 'pools', 'set', 'web', 'gpu')).rejects.toThrow('nothing to change');
    await expect(run('clusters', 'pools', 'set', 'web', 'gpu', '--label', 'a=b', '--clear-labels')).rejects.toThrow(
      /--label <key=value>' cannot be used with option '--clear-labels'/,
    );
    await expect(
      run('clusters', 'pools', 'set', 'web', 'gpu', '--clear-taints', '--taint', 'a:NoSchedule'),
    ).rejects.toThrow(/cannot be used with option '--clear-taints'/);
    for (const order of [
      ['--autoscale', '1:2:50', '--no-autoscale'],
      ['--no-autoscale', '--autoscale', '1:2:50'],
    ])
      await expect(run('clusters', 'pools', 'set', 'web', 'gpu', ...order)).rejects.toThrow(
        '--autoscale and --no-autoscale cannot be used together',
      );
    expect(writes()).toEqual([]);
  });

  it('removes a pool, naming it in a path segment of its own', async () => {
    await run('clusters', 'pools', 'remove', 'web', 'gpu');
    expect(writes()).toEqual([{ method: 'DELETE', path: `/v1/clusters/${CLUSTER}/pools/gpu`, body: undefined }]);
    expect(printed).toBe('worker pool gpu of cluster web removed: its nodes leave\n');
    sent = [];
    await run('clusters', 'pools', 'show', CLUSTER, 'a/b');
    expect(sent[0].path).toBe(`/v1/clusters/${CLUSTER}/pools/a%2Fb`);
  });

  it("passes the API's refusal on as an ApiError (kaasctl exits 1 on a 4xx)", async () => {
    answer = { status: 409, body: { statusCode: 409, message: 'cluster "web" already has a worker pool named "gpu"' } };
    const failure = run('clusters', 'pools', 'add', CLUSTER, 'gpu', '--count', '1');
    await expect(failure).rejects.toThrow(ApiError);
    await expect(failure).rejects.toThrow('409: cluster "web" already has a worker pool named "gpu"');
  });

  it('names an unknown cluster and sends nothing', async () => {
    await expect(run('clusters', 'pools', 'scale', 'nope', 'gpu', '1')).rejects.toThrow('no cluster named "nope"');
    expect(writes()).toEqual([]);
  });

  it('creates a cluster of pools with --pool instead of --workers, and refuses both', async () => {
    const create = ['clusters', 'create', 'web', '--vpc', VPC, '--storage-pool', STORAGE, '--floating-ip', FIP];
    await run('-o', 'wide', ...create, '--pool', 'general:3', '--pool', 'gpu:2:8:16384:100');
    const body = writes()[0].body as Record<string, unknown>;
    expect(body.workerPools).toEqual([
      { name: 'general', count: 3 },
      { name: 'gpu', count: 2, nodeSpec: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 } },
    ]);
    expect(body).not.toHaveProperty('workers');
    expect(printed.split('\n')[1]).toMatch(/\s5\/6\s.*\sgeneral:3,gpu:2\s/);
    sent = [];
    await run(...create);
    expect(writes()[0].body).toEqual(expect.objectContaining({ workers: 2 }));
    expect(writes()[0].body).not.toHaveProperty('workerPools');
    sent = [];
    await expect(run(...create, '--workers', '2', '--pool', 'general:3')).rejects.toThrow(
      'give --workers or --pool, not both',
    );
    expect(writes()).toEqual([]);
  });

  it('shows the pools of each cluster in clusters list', async () => {
    await run('clusters', 'list', '-o', 'wide');
    const [header, row] = printed.split('\n');
    expect(header).toMatch(/WORKERS\s+READY\s.*\sPOOLS\s/);
    expect(row).toMatch(/\s5\s+5\/6\s.*\sgeneral:3,gpu:2\s/);
  });
});
