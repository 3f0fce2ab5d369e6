import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { buildNoCloudSeed } from '../../src/hypervisor/seed/index.js';
import { libvirtNames, macFor } from '../../src/hypervisor/xml/names.js';
import { bridges, dnsmasqFor, vmEnv, waitForConsole, testImageBoot } from './vm-support.js';

describe('a real guest through the platform binding (qemu:///system, software emulation)', () => {
  let conn: LibvirtConnection;
  let driver: LibvirtHostBackend;
  const { imageDir, dataDir } = vmEnv();
  const ids = {
    tenantId: randomUUID(),
    clusterId: randomUUID(),
    nodeId: randomUUID(),
    vpcId: randomUUID(),
    poolId: randomUUID(),
  };
  const pool = libvirtNames.storagePool(ids.poolId);
  const network = libvirtNames.vpcNetwork(ids.vpcId);
  const bridge = libvirtNames.vpcBridge(ids.vpcId);
  const domain = libvirtNames.domain(ids.nodeId);
  const mac = macFor(ids.nodeId);
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

  it('boots a guest with its seed, DHCP address and copy-on-write disk, then leaves nothing behind', async () => {
    await driver.ensurePool({ type: 'dir', name: pool, path: poolDir });
    const base = await driver.ensureVolume(pool, { name: 'base.qcow2', capacityBytes: 2 ** 30, format: 'qcow2' });
    await driver.ensureVolume(pool, {
      name: libvirtNames.nodeVolume(ids.nodeId),
      capacityBytes: 2 * 2 ** 30,
      format: 'qcow2',
      backing: { path: base.path, format: 'qcow2' },
    });
    await driver.ensureNetwork({ name: network, bridge, gateway: '10.77.0.1', prefix: 24, hosts: [] });
    await driver.setDhcpHost(network, { mac, ip: '10.77.0.42', name: 'vm-test-0' });
    const seed = buildNoCloudSeed({
      instanceId: ids.nodeId,
      hostname: 'vm-test-0',
      userData: '#!/bin/sh\necho "USERDATA_RAN host=$(hostname)"\necho ok > /var/www/status\n',
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
      nics: [{ network, mac }],
      consoleLog,
      owner: { ...ids, role: 'worker' },
    });
    const t0 = Date.now();
    await driver.startDomain(domain);
    await waitForConsole(consoleLog, /KAAS_STAGE network-up ip=10\.77\.0\.42/);
    await waitForConsole(consoleLog, /USERDATA_RAN host=vm-test-0/);
    await waitForConsole(consoleLog, /KAAS_STAGE user-data-done rc=0/);
    console.log(`guest booted to user-data-done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const leases = await conn.getDhcpLeases(network);
    expect(leases).toEqual([expect.objectContaining({ mac, ipaddr: '10.77.0.42' })]);
    const res = await fetch('http://10.77.0.42:8099/status', { signal: AbortSignal.timeout(5000) });
    expect((await res.text()).trim()).toBe('ok');
    expect(await bridges()).toContain(bridge);
    expect(await dnsmasqFor(network)).toBeGreaterThan(0);

    expect(['stopped', 'destroyed']).toContain(await driver.shutdownDomain(domain, 30000));
    await driver.removeDomain(domain);
    await driver.removeVolume(pool, libvirtNames.seedVolume(ids.nodeId));
    await driver.removeVolume(pool, libvirtNames.nodeVolume(ids.nodeId));
    await driver.removeVolume(pool, 'base.qcow2');
    await driver.removeNetwork(network);
    await driver.removePool(pool);

    // Other suites share this libvirtd: what this test made is gone, whatever else exists.
    expect(await driver.domainState(domain)).toBe('absent');
    expect((await driver.listOwnedDomains()).map((d) => d.name)).not.toContain(domain);
    expect(await driver.listNetworks()).not.toContain(network);
    expect(await driver.listPools()).not.toContain(pool);
    expect(await bridges()).not.toContain(bridge);
    expect(await dnsmasqFor(network)).toBe(0);
  });
});
