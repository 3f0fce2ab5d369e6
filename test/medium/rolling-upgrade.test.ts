import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clusterBody,
  type Platform,
  startPlatform,
  type TenantSetup,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';
import type { Redis } from 'ioredis';
import type { LibvirtHostBackend } from '../../src/hypervisor/backends/libvirt-host-backend.js';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { REDIS } from '../../src/jobs/redis.provider.js';
import { ClusterReconciler } from '../../src/reconcilers/cluster/cluster.reconciler.js';
import { ROOT, waitFor } from '../support/processes.js';

/**
 * A rolling version upgrade on simulated hosts, with a bundle of two versions (the second
 * reachable from the first): masters one at a time, the new one Ready before the old one
 * leaves, then the workers; a downgrade or a version not listed is refused.
 */
describe('rolling upgrades', () => {
  let p: Platform;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kaas-roll-bundles-'));
    const roll = join(dir, 'roll');
    mkdirSync(join(roll, 'artifacts'), { recursive: true });
    cpSync(join(ROOT, 'bundles', 'etcd', 'scripts'), join(roll, 'scripts'), { recursive: true });
    const sums: string[] = [];
    for (const name of ['server-1.0', 'server-1.1', 'server-1.2']) {
      const data = `simulated guests read no ${name}\n`;
      writeFileSync(join(roll, 'artifacts', name), data);
      sums.push(`${createHash('sha256').update(data).digest('hex')}  ${name}`);
    }
    writeFileSync(join(roll, 'artifacts', 'SHA256SUMS'), `${sums.join('\n')}\n`);
    writeFileSync(
      join(roll, 'manifest.json'),
      JSON.stringify({
        name: 'roll',
        description: 'two versions, for upgrade tests',
        defaultVersion: 'v1.0.0',
        versions: {
          'v1.0.0': { artifacts: ['artifacts/server-1.0'] },
          'v1.1.0': { artifacts: ['artifacts/server-1.1'], upgradeFrom: ['v1.0.0'] },
          'v1.2.0': { artifacts: ['artifacts/server-1.2'], upgradeFrom: ['v1.1.0'], image: 'roll-next' },
        },
        checksums: 'artifacts/SHA256SUMS',
        scripts: { common: 'scripts/common.sh', master: 'scripts/master.sh', worker: 'scripts/worker.sh' },
        endpoint: { port: 2379, scheme: 'https' },
        readiness: { port: 8099, path: '/status' },
        leave: { master: 'etcd-member-remove' },
      }),
    );
    p = await startPlatform({ KAAS_BUNDLES_DIR: dir });
  }, 60000);
  afterAll(async () => {
    await p?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  type Node = { id: string; role: string; phase: string; version: string };
  type Event = { id: string; reason: string; message: string; nodeId: string | null };

  /**
   * Samples a cluster's nodes every 50 ms until `done` says the roll is over (the cluster
   * Running), and answers the fewest ready masters seen meanwhile, with the cluster as it ended.
   */
  async function rollOut(
    client: TenantSetup['client'],
    id: string,
    what: string,
    done: (nodes: Node[]) => boolean,
  ): Promise<{ fewest: number; cluster: { conditions: { type: string; status: string }[] } }> {
    let fewest = Number.POSITIVE_INFINITY;
    const deadline = Date.now() + 60000;
    for (;;) {
      const now = (await client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as Node[];
      fewest = Math.min(fewest, now.filter((n) => n.role === 'master' && n.phase === 'Ready').length);
      const c = (await client.call('GET', `/v1/clusters/${id}`)).body;
      if (c.phase === 'Running' && done(now)) return { fewest, cluster: c };
      if (Date.now() > deadline) throw new Error(`${what} not done: ${JSON.stringify(c.conditions)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('rolls 3 masters and a pool from v1.0.0 to v1.1.0 keeping 3 ready masters throughout, and refuses going back', async () => {
    const s = await tenantWithInfra(p, 'roll');
    const planes = (await s.client.call('GET', '/v1/control-planes')).body.items as {
      name: string;
      versions: { version: string; upgradeFrom: string[] }[];
    }[];
    expect(planes.find((b) => b.name === 'roll')?.versions).toEqual([
      { version: 'v1.0.0', available: true, upgradeFrom: [] },
      { version: 'v1.1.0', available: true, upgradeFrom: ['v1.0.0'] },
      { version: 'v1.2.0', available: true, upgradeFrom: ['v1.1.0'], image: 'roll-next' },
    ]);
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        controlPlane: 'roll',
        masters: 3,
        workers: 2,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
      }),
    );
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    const nodes = async () => (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as Node[];
    const before = await nodes();

    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { version: 'v9.9.9' })).status).toBe(422);
    const patched = await s.client.call('PATCH', `/v1/clusters/${id}`, { version: 'v1.1.0' });
    expect(patched.status).toBe(202);
    expect(patched.body.version).toBe('v1.1.0');

    // Sampled all along: never fewer than 3 Ready masters.
    const { fewest, cluster: done } = await rollOut(
      s.client,
      id,
      'upgrade',
      (now) => now.length === 5 && now.every((n) => n.version === 'v1.1.0'),
    );
    expect(fewest).toBe(3);
    expect(done.conditions.find((x: { type: string }) => x.type === 'UpToDate')).toMatchObject({ status: 'True' });
    const after = await nodes();
    expect(after.filter((n) => before.some((b) => b.id === n.id))).toEqual([]);

    // The order, from the events: each old master leaves only after its replacement is Ready,
    // and no worker is replaced before the last master.
    const events = (
      (await s.client.call('GET', `/v1/clusters/${id}/events?limit=1000`)).body.items as Event[]
    ).reverse();
    const at = (pred: (e: Event) => boolean) => events.findIndex(pred);
    const oldMasters = before.filter((n) => n.role === 'master');
    let lastMasterStep = -1;
    for (const m of oldMasters) {
      const made = events.find((e) => e.reason === 'NodeCreated' && e.message.includes(`replaces ${m.id}`));
      expect(made).toBeDefined();
      const ready = at((e) => e.reason === 'NodeReady' && e.nodeId === made!.nodeId);
      const removing = at((e) => e.reason === 'NodeRemoving' && e.nodeId === m.id);
      expect(ready).toBeGreaterThan(-1);
      expect(removing).toBeGreaterThan(ready);
      lastMasterStep = Math.max(lastMasterStep, removing);
    }
    for (const w of before.filter((n) => n.role === 'worker'))
      expect(at((e) => e.reason === 'NodeCreated' && e.message.includes(`replaces ${w.id}`))).toBeGreaterThan(
        lastMasterStep,
      );

    const back = await s.client.call('PATCH', `/v1/clusters/${id}`, { version: 'v1.0.0' });
    expect(back.status).toBe(422);
    expect(back.body.message).toMatch(/downgrade/);
    expect(back.body.details).toMatchObject({ field: 'version' });
  }, 120000);

  it('rotates certificates by replacing every node one at a time, keeping 3 ready masters', async () => {
    const s = await tenantWithInfra(p, 'rotate');
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        controlPlane: 'roll',
        masters: 3,
        workers: 1,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
      }),
    );
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    const nodes = async () => (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as Node[];
    const before = (await nodes()).map((n) => n.id);
    expect((await s.client.call('POST', `/v1/clusters/${id}/rotate-certificates`, { x: 1 })).status).toBe(400);
    const rotated = await s.client.call('POST', `/v1/clusters/${id}/rotate-certificates`, {});
    expect(rotated.status).toBe(202);
    const { fewest } = await rollOut(
      s.client,
      id,
      'rotation',
      (now) => now.length === 4 && now.every((n) => !before.includes(n.id)),
    );
    expect(fewest).toBe(3);
    const events = (await s.client.call('GET', `/v1/clusters/${id}/events?limit=1000`)).body.items as Event[];
    expect(events.map((e) => e.reason)).toContain('CertificateRotationRequested');
  }, 120000);

  it('resumes an upgrade whose worker stopped mid-way and whose queued jobs were lost', async () => {
    const s = await tenantWithInfra(p, 'resume');
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        controlPlane: 'roll',
        masters: 3,
        workers: 1,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
      }),
    );
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    const nodes = async () => (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as Node[];
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { version: 'v1.1.0' })).status).toBe(202);
    // Mid-way: the first new master is Ready, other masters are still at the old version.
    await waitFor(
      'the first new master',
      async () => {
        const now = await nodes();
        return now.some((n) => n.role === 'master' && n.version === 'v1.1.0' && n.phase === 'Ready');
      },
      30000,
      20,
    );
    const runner = p.worker.get(JobRunner);
    await runner.stop();
    // Everything queued is lost with it (the host leases stay: the hosts' guests run on).
    const redis = p.worker.get<Redis>(REDIS);
    const prefix = p.config.queuePrefix;
    for (const pattern of [`${prefix}:reconcile:*`, `${prefix}:maintenance:*`, `${prefix}:host-*`]) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      if (keys.length > 0) await redis.del(...keys);
    }
    const stalled = await nodes();
    expect(stalled.some((n) => n.version === 'v1.0.0')).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    // Nothing moved while the worker was away.
    expect((await nodes()).map((n) => `${n.id} ${n.phase}`).sort()).toEqual(
      stalled.map((n) => `${n.id} ${n.phase}`).sort(),
    );
    await runner.start({ schedules: false });
    // The periodic resync finds the cluster unsettled and the upgrade goes on from the database.
    expect((await p.worker.get(ClusterReconciler).resync()).enqueued).toBeGreaterThanOrEqual(1);
    const { fewest } = await rollOut(
      s.client,
      id,
      'resumed upgrade',
      (now) => now.length === 4 && now.every((n) => n.version === 'v1.1.0'),
    );
    expect(fewest).toBe(3);
  }, 120000);

  it("boots a version's nodes from the guest image it names, once the operator has registered it", async () => {
    const s = await tenantWithInfra(p, 'imaged');
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        controlPlane: 'roll',
        version: 'v1.1.0',
        masters: 1,
        workers: 1,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
      }),
    );
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running');
    const refused = await s.client.call('PATCH', `/v1/clusters/${id}`, { version: 'v1.2.0' });
    expect(refused.status).toBe(422);
    expect(refused.body.message).toContain('roll-next');
    expect(refused.body.details).toMatchObject({ field: 'version' });
    const image = await p.admin.call('POST', '/v1/images', {
      name: 'roll-next',
      kind: 'kernel',
      kernelPath: '/var/lib/kaas/images/roll-next/vmlinuz',
      initrdPath: '/var/lib/kaas/images/roll-next/initrd.img',
    });
    expect(image.status).toBe(201);
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { version: 'v1.2.0' })).status).toBe(202);
    const { fewest } = await rollOut(
      s.client,
      id,
      'upgrade to an imaged version',
      (now) => now.length === 2 && now.every((n) => n.version === 'v1.2.0'),
    );
    expect(fewest).toBeGreaterThanOrEqual(1);
    // Every new node's VM boots the named image's kernel.
    const backend = p.worker.get(HostLeases).runtime(p.hostId)!.backend as LibvirtHostBackend;
    for (const n of (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as Node[]) {
      const xml = await backend.conn.getDomainXML(`kaas-node-${n.id}`);
      expect(xml).toContain('/var/lib/kaas/images/roll-next/vmlinuz');
    }
  }, 120000);
});
