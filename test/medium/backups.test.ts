import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { BackupJobs } from '../../src/backups/backup-jobs.handler.js';
import { backupVolumeName } from '../../src/backups/backups.repository.js';
import { checkEtcdSnapshot } from '../../src/control-plane/etcd-snapshot.js';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import {
  clusterBody,
  type Platform,
  startPlatform,
  type TenantSetup,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';
import { waitFor } from '../support/processes.js';

type Backup = {
  id: string;
  clusterId: string;
  clusterName: string;
  phase: string;
  trigger: string;
  version: string;
  sizeBytes: number;
  sha256: string | null;
  message: string | null;
  completedAt?: string;
};

/**
 * Backups of simulated clusters: taken through the same path as real ones (a snapshot file of
 * etcd's shape, checked, stored as a volume in the cluster's pool on its master's host, read
 * back and checked again by a restore), on demand and on a schedule.
 */
describe('backups and restore (simulated host)', () => {
  let p: Platform;
  let s: TenantSetup;
  let clusterId: string;

  beforeAll(async () => {
    p = await startPlatform();
    s = await tenantWithInfra(p, 'backups');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { name: 'db', workers: 1 }));
    expect(created.status).toBe(202);
    clusterId = created.body.id;
    await waitForPhase(s.client, clusterId, 'Running');
  }, 90000);
  afterAll(async () => {
    await p?.close();
  });

  const backend = () => p.worker.get(HostLeases).runtime(p.hostId)!.backend!;
  const poolVolumes = () => backend().listVolumes(libvirtNames.storagePool(s.poolId));
  const finished = (id: string) =>
    waitFor(`backup ${id} to finish`, async () => {
      const b = (await s.client.call('GET', `/v1/backups/${id}`)).body as Backup;
      return b.phase === 'Succeeded' || b.phase === 'Failed' ? b : undefined;
    });

  it('takes a backup on demand, stores it as a volume counted against the pool, and lists it', async () => {
    const before = (await s.client.call('GET', `/v1/storage-pools/${s.poolId}`)).body.allocatedGiB as number;
    const res = await s.client.call('POST', `/v1/clusters/${clusterId}/backups`, {});
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ clusterId, clusterName: 'db', phase: 'Pending', trigger: 'manual', sizeBytes: 0 });
    const done = await finished(res.body.id);
    expect(done.phase).toBe('Succeeded');
    expect(done.sizeBytes).toBeGreaterThan(64);
    expect(done.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(done.completedAt).toBeDefined();
    expect(done.version).toBe('v3.4.23');
    // Stored where its volume is counted: one GiB at least, in the cluster's pool.
    expect(await poolVolumes()).toContain(backupVolumeName(done.id));
    const stored = await backend().readBlobVolume(
      libvirtNames.storagePool(s.poolId),
      backupVolumeName(done.id),
      1 << 20,
    );
    const check = checkEtcdSnapshot(stored);
    expect(check).toMatchObject({ ok: true, sha256: done.sha256 });
    expect(stored.length).toBe(done.sizeBytes);
    expect((await s.client.call('GET', `/v1/storage-pools/${s.poolId}`)).body.allocatedGiB).toBe(before + 1);
    // Listed newest first, under the cluster and tenant-wide.
    const mine = await s.client.call('GET', `/v1/clusters/${clusterId}/backups`);
    expect(mine.body.items.map((b: Backup) => b.id)).toEqual([done.id]);
    expect((await s.client.call('GET', `/v1/clusters/${clusterId}/backups/${done.id}`)).body.phase).toBe('Succeeded');
    const events = (await s.client.call('GET', `/v1/clusters/${clusterId}/events`)).body.items as { reason: string }[];
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['BackupRequested', 'BackupSucceeded']));
  });

  it('refuses what cannot be backed up, naming why', async () => {
    const unknown = await s.client.call('POST', `/v1/clusters/${clusterId}/backups`, { full: true });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('full');
    const none = await s.client.call('POST', '/v1/clusters/00000000-0000-4000-8000-000000000000/backups', {});
    expect(none.status).toBe(404);
    // One at a time per cluster.
    const first = await s.client.call('POST', `/v1/clusters/${clusterId}/backups`, {});
    expect(first.status).toBe(202);
    const second = await s.client.call('POST', `/v1/clusters/${clusterId}/backups`, {});
    if ((await s.client.call('GET', `/v1/backups/${first.body.id}`)).body.phase !== 'Succeeded') {
      expect(second.status).toBe(409);
      expect(second.body.message).toContain(first.body.id);
    }
    await finished(first.body.id);
    if (second.status === 202) await finished(second.body.id);
    // Another tenant sees none of them.
    const other = await tenantWithInfra(p, 'backups-other');
    expect((await other.client.call('GET', `/v1/backups/${first.body.id}`)).status).toBe(404);
    expect((await other.client.call('GET', '/v1/backups')).body.items).toEqual([]);
    expect((await other.client.call('POST', `/v1/clusters/${clusterId}/backups`, {})).status).toBe(404);
  });

  it('takes scheduled backups when due and keeps the newest `keep` of them', async () => {
    const bad = await s.client.call('PATCH', `/v1/clusters/${clusterId}`, {
      settings: { backup: { intervalMinutes: 1, keep: 0 } },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/intervalMinutes/);
    const set = await s.client.call('PATCH', `/v1/clusters/${clusterId}`, {
      settings: { backup: { intervalMinutes: 60, keep: 2 } },
    });
    expect(set.status).toBe(202);
    await waitForPhase(s.client, clusterId, 'Running');
    const jobs = p.worker.get(BackupJobs);
    const db = p.app.get(DataSource);
    const scheduled = async () =>
      ((await s.client.call('GET', `/v1/clusters/${clusterId}/backups?limit=100`)).body.items as Backup[]).filter(
        (b) => b.trigger === 'scheduled',
      );
    let pruned = 0;
    for (let round = 1; round <= 4; round++) {
      const result = await jobs.schedule();
      expect(result.started).toBe(1);
      pruned += result.pruned;
      const newest = (await scheduled())[0];
      expect(newest.trigger).toBe('scheduled');
      expect((await finished(newest.id)).phase).toBe('Succeeded');
      // Not due again within the interval (this pass prunes what is beyond `keep`).
      const again = await jobs.schedule();
      expect(again.started).toBe(0);
      pruned += again.pruned;
      // An hour passes.
      await db.query(`UPDATE backups SET created_at = created_at - interval '61 minutes' WHERE cluster_id = $1`, [
        clusterId,
      ]);
    }
    // Four taken, the newest two kept.
    expect(pruned).toBe(2);
    const kept = await scheduled();
    expect(kept.map((b) => b.phase)).toEqual(['Succeeded', 'Succeeded']);
    // Pages of one, followed by their cursors, give every backup once, newest first.
    const all = (
      (await s.client.call('GET', `/v1/clusters/${clusterId}/backups?limit=100`)).body.items as Backup[]
    ).map((b) => b.id);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.client.call(
        'GET',
        `/v1/clusters/${clusterId}/backups?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      paged.push(...(page.body.items as Backup[]).map((b) => b.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all);
    expect(all.length).toBeGreaterThanOrEqual(4);
    // `backup: null` turns the schedule off: nothing more is taken, nothing more is pruned.
    expect((await s.client.call('PATCH', `/v1/clusters/${clusterId}`, { settings: { backup: null } })).status).toBe(
      202,
    );
    await waitForPhase(s.client, clusterId, 'Running');
    expect(await jobs.schedule()).toEqual({ started: 0, pruned: 0, requeued: 0 });
    expect((await scheduled()).length).toBe(2);
    const manual = (
      (await s.client.call('GET', `/v1/clusters/${clusterId}/backups?limit=100`)).body.items as Backup[]
    ).filter((b) => b.trigger === 'manual');
    expect(manual.length).toBeGreaterThanOrEqual(2);
    // The pruned backups' volumes leave the pool.
    const recorded = new Set(
      ((await s.client.call('GET', `/v1/backups?limit=1000`)).body.items as Backup[]).map((b) =>
        backupVolumeName(b.id),
      ),
    );
    await waitFor('pruned volumes to go', async () =>
      (await poolVolumes()).filter((v) => v.startsWith('kaas-backup-')).every((v) => recorded.has(v)),
    );
    await s.client.call('PATCH', `/v1/clusters/${clusterId}`, {
      settings: { backup: { intervalMinutes: 10080, keep: 100 } },
    });
  });

  it('restores into a new Running cluster; the old one is untouched; backups outlive their cluster', async () => {
    const manual = ((await s.client.call('GET', `/v1/clusters/${clusterId}/backups`)).body.items as Backup[]).find(
      (b) => b.phase === 'Succeeded',
    )!;
    const nodesBefore = (await s.client.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items.map(
      (n: { id: string }) => n.id,
    );
    // Refusals name the field.
    const missing = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, { name: 'copy', restoreFrom: { backupId: '00000000-0000-4000-8000-000000000000' } }),
    );
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain('restoreFrom.backupId');
    const wrongVersion = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, { name: 'copy', version: 'v9.9.9', restoreFrom: { backupId: manual.id } }),
    );
    expect(wrongVersion.status).toBe(400);
    expect(JSON.stringify(wrongVersion.body)).toContain('version');
    // A second floating IP for the new cluster.
    const fip = await s.client.call('POST', '/v1/floating-ips', {});
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, {
        name: 'copy',
        masters: 3,
        workers: 1,
        floatingIpId: fip.body.id,
        restoreFrom: { backupId: manual.id },
      }),
    );
    expect(created.status).toBe(202);
    expect(created.body.restoredFrom).toEqual({ backupId: manual.id, restoredAt: null });
    expect(created.body.version).toBe(manual.version);
    // A backup being restored from is not deleted under the restore.
    expect((await s.client.call('DELETE', `/v1/backups/${manual.id}`)).status).toBe(409);
    const running = await waitForPhase(s.client, created.body.id, 'Running', 60000);
    expect((running.restoredFrom as { restoredAt: string | null }).restoredAt).not.toBeNull();
    const events = (await s.client.call('GET', `/v1/clusters/${created.body.id}/events?limit=200`)).body.items as {
      reason: string;
      message: string;
    }[];
    const restoring = events.filter((e) => e.reason === 'RestoringFromBackup');
    // Only the first master starts from the backup; the others join it.
    expect(restoring).toHaveLength(1);
    expect(restoring[0].message).toContain(manual.id);
    expect(restoring[0].message).toContain(manual.sha256!.slice(0, 12));
    expect(events.map((e) => e.reason)).toContain('Restored');
    // The old cluster is untouched.
    const old = await s.client.call('GET', `/v1/clusters/${clusterId}`);
    expect(old.body.phase).toBe('Running');
    expect(
      (await s.client.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items.map((n: { id: string }) => n.id),
    ).toEqual(nodesBefore);

    // Deleting the original cluster keeps its backups; they are deleted on their own.
    expect((await s.client.call('DELETE', `/v1/clusters/${clusterId}`)).status).toBe(202);
    await waitFor(
      'the cluster to be gone',
      async () => (await s.client.call('GET', `/v1/clusters/${clusterId}`)).status === 404,
    );
    const left = (await s.client.call('GET', '/v1/backups?limit=1000')).body.items as Backup[];
    expect(left.filter((b) => b.clusterId === clusterId).length).toBeGreaterThan(0);
    expect((await s.client.call('GET', `/v1/backups/${manual.id}`)).body.clusterName).toBe('db');
    // The pool holds them: it cannot be deleted before they are.
    const poolDelete = await s.client.call('DELETE', `/v1/storage-pools/${s.poolId}`);
    expect(poolDelete.status).toBe(409);
    for (const b of left) expect((await s.client.call('DELETE', `/v1/backups/${b.id}`)).status).toBe(204);
    expect((await s.client.call('GET', `/v1/backups/${manual.id}`)).status).toBe(404);
    await waitFor('every backup volume to go', async () =>
      (await poolVolumes()).every((v) => !v.startsWith('kaas-backup-')),
    );
  }, 120000);
});
