import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../src/common/database.js';
import { HostDriver } from '../../src/hypervisor/host-driver.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { buildNoCloudSeed } from '../../src/hypervisor/seed/index.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { VpcsService } from '../../src/networks/vpcs.service.js';
import { createTenant, startTestApp, type TestApp } from '../support/test-app.js';
import { vmEnv, waitForConsole } from './vm-support.js';

/**
 * Two tenants' VPCs on one host each get a guest: each guest has the address the platform chose
 * for it, reaches its own gateway, and cannot reach the other guest (nothing is routed between
 * VPCs). VPCs with the same CIDR are placed on different hosts (libvirt refuses one subnet twice
 * on a host); that placement rule is tested on simulated hosts in test/medium.
 */
describe('VPCs stay apart (real guests)', () => {
  let t: TestApp;
  let conn: LibvirtConnection;
  let driver: HostDriver;
  const { imageDir, dataDir } = vmEnv();
  const poolId = randomUUID();
  const pool = libvirtNames.storagePool(poolId);
  const guests: { nodeId: string; network: string; address: string; log: string; mac: string }[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    conn = await LibvirtConnection.open('qemu:///system');
    driver = new HostDriver(conn, false);
    mkdirSync(join(dataDir, 'pools'), { recursive: true });
    await driver.ensurePool({ type: 'dir', name: pool, path: join(dataDir, 'pools', poolId) });
  });
  afterAll(async () => {
    for (const g of guests) {
      await driver.removeDomain(libvirtNames.domain(g.nodeId)).catch(() => undefined);
      await driver.removeVolume(pool, libvirtNames.seedVolume(g.nodeId)).catch(() => undefined);
      await driver.removeNetwork(g.network).catch(() => undefined);
    }
    await driver.removePool(pool).catch(() => undefined);
    await conn.close();
    await t.close();
  });

  it('gives each guest its platform-chosen address and no way to the other tenant', async () => {
    const vpcs = t.app.get(VpcsService);
    const db = t.app.get(Database);
    for (const [name, cidr] of [
      ['tenant-a', '10.88.0.0/24'],
      ['tenant-b', '10.89.0.0/24'],
    ]) {
      const tenant = await createTenant(t, name);
      const vpc = (await tenant.client.call('POST', '/v1/vpcs', { name: 'net', cidr })).body;
      // Tenant B's first address is taken by something else: the guest must get the one chosen.
      if (name === 'tenant-b')
        await db.transaction((tx) => vpcs.allocateAddress(tx, tenant.id, vpc.id, { kind: 'node', id: randomUUID() }));
      const nodeId = randomUUID();
      const address = await db.transaction((tx) =>
        vpcs.allocateAddress(tx, tenant.id, vpc.id, { kind: 'node', id: nodeId }),
      );
      guests.push({
        nodeId,
        network: libvirtNames.vpcNetwork(vpc.id),
        address,
        log: join(dataDir, `${nodeId}.console.log`),
        mac: `52:54:00:88:00:0${guests.length + 1}`,
      });
      await driver.ensureNetwork({
        name: libvirtNames.vpcNetwork(vpc.id),
        bridge: libvirtNames.vpcBridge(vpc.id),
        gateway: vpc.gateway,
        prefix: 24,
        hosts: [],
      });
    }
    expect(guests.map((g) => g.address)).toEqual(['10.88.0.2', '10.89.0.3']);
    for (const [i, g] of guests.entries()) {
      const other = guests[1 - i];
      await driver.setDhcpHost(g.network, { mac: g.mac, ip: g.address, name: `guest-${i}` });
      const userData = [
        '#!/bin/sh',
        `if ping -c 2 -W 2 ${g.address.replace(/\.\d+$/, '.1')} >/dev/null 2>&1; then echo "PROBE gateway=ok"; else echo "PROBE gateway=fail"; fi`,
        `if ping -c 3 -W 2 ${other.address} >/dev/null 2>&1; then echo "PROBE other=reached"; else echo "PROBE other=unreachable"; fi`,
        'echo PROBE done',
      ].join('\n');
      await driver.ensureVolumeWithContent(
        pool,
        libvirtNames.seedVolume(g.nodeId),
        buildNoCloudSeed({ instanceId: g.nodeId, hostname: `guest-${i}`, userData }),
      );
      await driver.ensureDomain({
        name: libvirtNames.domain(g.nodeId),
        type: 'qemu',
        vcpus: 1,
        memoryMiB: 256,
        boot: {
          kind: 'kernel',
          kernel: join(imageDir, 'vmlinuz'),
          initrd: join(imageDir, 'initramfs.img'),
          cmdline: 'console=ttyS0 quiet panic=-1',
        },
        disks: [
          {
            pool,
            volume: libvirtNames.seedVolume(g.nodeId),
            format: 'raw',
            device: 'disk',
            bus: 'virtio',
            target: 'vdb',
            readonly: true,
          },
        ],
        nics: [{ network: g.network, mac: g.mac }],
        consoleLog: g.log,
        owner: { tenantId: randomUUID(), clusterId: randomUUID(), nodeId: g.nodeId, role: 'worker' },
      });
    }
    await Promise.all(guests.map((g) => driver.startDomain(libvirtNames.domain(g.nodeId))));
    for (const g of guests) {
      await waitForConsole(g.log, new RegExp(`KAAS_STAGE network-up ip=${g.address.replace(/\./g, '\\.')}`));
      await waitForConsole(g.log, /PROBE done/);
      const text = (await import('node:fs')).readFileSync(g.log, 'utf8');
      expect(text).toContain('PROBE gateway=ok');
      expect(text).toContain('PROBE other=unreachable');
    }
  });
});
