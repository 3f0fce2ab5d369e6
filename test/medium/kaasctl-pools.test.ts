import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiError } from '../../src/cli/api-client.js';
import { kaasctl as runKaasctl } from '../support/kaasctl.js';
import { type Platform, startPlatform, tenantWithInfra, type TenantSetup } from '../support/platform.js';

/**
 * `kaasctl clusters pools ...` and `clusters create --pool` run in this process against the real
 * API on a simulated host: the declared pools are what is checked, not the nodes that follow.
 */
describe('kaasctl worker pools against the API', () => {
  let t: Platform;
  let s: TenantSetup;
  let clusterId: string;

  beforeAll(async () => {
    t = await startPlatform();
    s = await tenantWithInfra(t, 'pools-cli');
  }, 60000);
  afterAll(async () => {
    await t?.close();
  });

  /** Runs `kaasctl <args>` with the tenant's key; what it printed. */
  const kaasctl = (...args: string[]): Promise<string> => runKaasctl(t.baseUrl, s.client.token!, args);
  const poolsOf = async () =>
    (await s.client.call('GET', `/v1/clusters/${clusterId}/pools`)).body.items as {
      name: string;
      count: number;
      nodeSpec: Record<string, number>;
      labels: Record<string, string>;
      taints: unknown[];
      autoscale?: unknown;
    }[];

  it('creates a cluster of two pools with --pool', async () => {
    const created = JSON.parse(
      await kaasctl(
        ...['-o', 'json', 'clusters', 'create', 'web', '--vpc', 'net', '--storage-pool', 'disks'],
        ...['--floating-ip', s.floatingIpId, '--pool', 'general:1', '--pool', 'gpu:0:4:4096:40'],
      ),
    );
    clusterId = created.id;
    expect(created.workers).toBe(1);
    expect(created.workerPools).toEqual([
      expect.objectContaining({ name: 'general', count: 1, nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } }),
      expect.objectContaining({ name: 'gpu', count: 0, nodeSpec: { vcpus: 4, memoryMiB: 4096, diskGiB: 40 } }),
    ]);
  });

  it('adds a pool with labels, taints and autoscaling, its size completed from the cluster’s, and lists it', async () => {
    await kaasctl(
      ...['clusters', 'pools', 'add', 'web', 'batch', '--count', '0', '--vcpus', '1'],
      ...['--label', 'tier=batch', '--taint', 'dedicated=batch:NoSchedule', '--taint', 'spot:PreferNoSchedule'],
      ...['--autoscale', '0:3:60'],
    );
    expect((await poolsOf()).find((p) => p.name === 'batch')).toEqual(
      expect.objectContaining({
        count: 0,
        nodeSpec: { vcpus: 1, memoryMiB: 2048, diskGiB: 20 },
        labels: { tier: 'batch' },
        taints: [
          { key: 'dedicated', value: 'batch', effect: 'NoSchedule' },
          { key: 'spot', effect: 'PreferNoSchedule' },
        ],
        autoscale: { minCount: 0, maxCount: 3, targetCpuPercent: 60 },
      }),
    );
    const table = await kaasctl('clusters', 'pools', 'list', 'web');
    expect(table).toMatch(/^NAME\s+COUNT\s+READY\s+VCPUS\s+MEMORY\s+DISK\s+LABELS\s+TAINTS\s+AUTOSCALE\n/);
    expect(table).toMatch(
      /\nbatch\s+0\s+0\/0\s+1\s+2048Mi\s+20Gi\s+tier=batch\s+dedicated=batch:NoSchedule,spot:PreferNoSchedule\s+0-3 at 60% CPU\n/,
    );
    expect(await kaasctl('-o', 'name', 'clusters', 'pools', 'list', clusterId)).toBe('general\ngpu\nbatch\n');
  });

  it('sets and clears labels, taints and autoscaling, and scales a pool', async () => {
    await kaasctl('clusters', 'pools', 'set', 'web', 'gpu', '--label', 'accelerator=yes', '--taint', 'gpu:NoExecute');
    await kaasctl('clusters', 'pools', 'set', 'web', 'batch', '--clear-labels', '--clear-taints', '--no-autoscale');
    const shown = JSON.parse(await kaasctl('-o', 'json', 'clusters', 'pools', 'scale', 'web', 'gpu', '2'));
    expect(shown).toEqual(expect.objectContaining({ name: 'gpu', count: 2, labels: { accelerator: 'yes' } }));
    const [, gpu, batch] = await poolsOf();
    expect(gpu).toEqual(expect.objectContaining({ count: 2, taints: [{ key: 'gpu', effect: 'NoExecute' }] }));
    expect(batch).toEqual(expect.objectContaining({ labels: {}, taints: [] }));
    expect(batch).not.toHaveProperty('autoscale');
    expect(await kaasctl('clusters', 'list', '-o', 'wide')).toMatch(
      /\sPOOLS\s[^\n]*\n[^\n]*\s3\s+\d\/4\s.*\sgeneral:1,gpu:2,batch:0\s/,
    );
  });

  it("passes the API's refusals on: --workers with several pools, a name taken, a pool that is not there", async () => {
    const refusal = async (...args: string[]) => {
      const err = await kaasctl(...args).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApiError);
      return err as ApiError;
    };
    expect((await refusal('clusters', 'scale', 'web', '--workers', '3')).status).toBe(409);
    expect((await refusal('clusters', 'pools', 'add', 'web', 'general', '--count', '1')).status).toBe(409);
    expect((await refusal('clusters', 'pools', 'show', 'web', 'nope')).status).toBe(404);
    expect(
      (await refusal('clusters', 'pools', 'add', 'web', 'x', '--count', '1', '--label', 'kubernetes.io/role=x'))
        .message,
    ).toMatch(/^400: .*labels/);
  });

  it('removes a pool', async () => {
    expect(await kaasctl('clusters', 'pools', 'remove', 'web', 'batch')).toBe(
      'worker pool batch of cluster web removed: its nodes leave\n',
    );
    expect((await poolsOf()).map((p) => p.name)).toEqual(['general', 'gpu']);
  });
});
