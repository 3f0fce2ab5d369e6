import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { buildNoCloudSeed } from '../../src/hypervisor/seed/index.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { vmEnv, waitForConsole, testImageBoot } from './vm-support.js';

describe('a real guest through the platform binding (qemu:///system, software emulation)', () => {
  let conn: LibvirtConnection;
  let driver: LibvirtHostBackend;
  const { imageDir, dataDir } = vmEnv();
  const ids = {
    tenantId: randomUUID(),
    clusterId: randomUUID(),
    nodeId: randomUUID(),
    poolId: randomUUID(),
  };
  const pool = libvirtNames.storagePool(ids.poolId);
  const domain = libvirtNames.domain(ids.nodeId);
  const poolDir = join(dataDir, 'pools', ids.poolId);
  const consoleLog = join(dataDir, `${ids.nodeId}.console.log`);

  beforeAll(async () => {
    conn = await LibvirtConnection.open('qemu:///system');
    driver = new LibvirtHostBackend(conn);
    mkdirSync(join(dataDir, 'pools'), { recursive: true });
  });
  afterAll(async () => {
    await driver.removeDomain(domain).catch(() => undefined);
    await conn.close();
    rmSync(poolDir, { recursive: true, force: true });
  });

  // The guest has no NIC: its network is OVN's, tested with real hosts in ovn-hosts.vm.ts.
  it('boots a guest with its seed and copy-on-write disk, then leaves nothing behind', async () => {
    await driver.ensurePool({ type: 'dir', name: pool, path: poolDir });
    const base = await driver.ensureVolume(pool, { name: 'base.qcow2', capacityBytes: 2 ** 30, format: 'qcow2' });
    await driver.ensureVolume(pool, {
      name: libvirtNames.nodeVolume(ids.nodeId),
      capacityBytes: 2 * 2 ** 30,
      format: 'qcow2',
      backing: { path: base.path, format: 'qcow2' },
    });
    const seed = buildNoCloudSeed({
      instanceId: ids.nodeId,
      hostname: 'vm-test-0',
      userData: '#!/bin/sh\necho "USERDATA_RAN host=$(hostname)"\n',
    });
    await driver.ensureContentVolume(pool, libvirtNames.seedVolume(ids.nodeId), async () => seed);
    await driver.ensureDomain({
      name: domain,
      type: 'qemu',
      vcpus: 1,
      memoryMiB: 256,
      boot: testImageBoot(imageDir),
      disks: [
        {
          pool,
          volume: libvirtNames.nodeVolume(ids.nodeId),
          format: 'qcow2',
          device: 'disk',
          bus: 'virtio',
          target: 'vda',
        },
        {
          pool,
          volume: libvirtNames.seedVolume(ids.nodeId),
          format: 'raw',
          device: 'disk',
          bus: 'virtio',
          target: 'vdb',
          readonly: true,
        },
      ],
      nics: [],
      consoleLog,
      owner: { ...ids, role: 'worker' },
    });
    const t0 = Date.now();
    await driver.startDomain(domain);
    await waitForConsole(consoleLog, /USERDATA_RAN host=vm-test-0/);
    await waitForConsole(consoleLog, /KAAS_STAGE user-data-done rc=0/);
    console.log(`guest booted to user-data-done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    expect(['stopped', 'destroyed']).toContain(await driver.shutdownDomain(domain, 30000));
    await driver.removeDomain(domain);
    await driver.removeVolume(pool, libvirtNames.seedVolume(ids.nodeId));
    await driver.removeVolume(pool, libvirtNames.nodeVolume(ids.nodeId));
    await driver.removeVolume(pool, 'base.qcow2');
    await driver.removePool(pool);

    // Other suites share this libvirtd: what this test made is gone, whatever else exists.
    expect(await driver.domainState(domain)).toBe('absent');
    expect((await driver.listOwnedDomains()).map((d) => d.name)).not.toContain(domain);
    expect(await driver.listPools()).not.toContain(pool);
  });

  it('stores a blob in a volume and reads back exactly its bytes, replaced when stored again', async () => {
    const name = libvirtNames.storagePool(randomUUID());
    const dir = join(dataDir, 'pools', name);
    // several stream chunks, and a length no multiple of 512
    const first = Buffer.alloc(700 * 1024 + 3);
    for (let i = 0; i < first.length; i++) first[i] = (i * 31 + 7) % 256;
    const second = Buffer.from('a smaller blob, stored under the same name');
    try {
      await driver.ensurePool({ type: 'dir', name, path: dir });
      await driver.storeBlobVolume(name, 'backup.tar', first);
      expect((await conn.getVolumeInfo(name, 'backup.tar')).capacity).toBe(first.length);
      expect((await driver.readBlobVolume(name, 'backup.tar', 2 ** 20)).equals(first)).toBe(true);
      await expect(driver.readBlobVolume(name, 'backup.tar', first.length - 1)).rejects.toThrow(/more than the/);

      await driver.storeBlobVolume(name, 'backup.tar', second);
      expect(await driver.listVolumes(name)).toEqual(['backup.tar']);
      expect((await driver.readBlobVolume(name, 'backup.tar', 2 ** 20)).equals(second)).toBe(true);

      await driver.removeVolume(name, 'backup.tar');
      expect(await driver.listVolumes(name)).toEqual([]);
    } finally {
      await driver.removePool(name);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes a pool's folder again when it is gone, where the settings say now", async () => {
    const name = libvirtNames.storagePool(randomUUID());
    const before = join(dataDir, 'pools', `${name}-before`);
    const now = join(dataDir, 'pools', `${name}-now`);
    try {
      await driver.ensurePool({ type: 'dir', name, path: before });
      await driver.ensureVolume(name, { name: 'a.qcow2', capacityBytes: 2 ** 20, format: 'qcow2' });
      rmSync(before, { recursive: true, force: true });
      // Another connection (a restarted worker) with the data folder moved.
      const other = new LibvirtHostBackend(conn);
      await other.ensurePool({ type: 'dir', name, path: now });
      const made = await other.ensureVolume(name, { name: 'b.qcow2', capacityBytes: 2 ** 20, format: 'qcow2' });
      expect(made.path).toBe(join(now, 'b.qcow2'));
      // Its folder gone again, same settings: made again in place.
      rmSync(now, { recursive: true, force: true });
      const third = new LibvirtHostBackend(conn);
      await third.ensurePool({ type: 'dir', name, path: now });
      expect((await third.ensureVolume(name, { name: 'c.qcow2', capacityBytes: 2 ** 20, format: 'qcow2' })).path).toBe(
        join(now, 'c.qcow2'),
      );
    } finally {
      await driver.removePool(name);
      rmSync(before, { recursive: true, force: true });
      rmSync(now, { recursive: true, force: true });
    }
  });
});
