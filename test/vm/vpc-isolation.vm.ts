import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../src/common/database.js';
import { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { buildNoCloudSeed } from '../../src/hypervisor/seed/index.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { VpcsService } from '../../src/networks/vpcs.service.js';
import { createTenant, startTestApp, type TestApp } from '../support/test-app.js';
import { run, secondHost, vmEnv, waitForConsole, testImageBoot } from './vm-support.js';

interface Host {
  conn: LibvirtConnection;
  driver: LibvirtHostBackend;
  pool: string;
}

interface Guest {
  host: Host;
  nodeId: string;
  network: string;
  address: string;
  log: string;
  mac: string;
}

/**
 * Two tenants' VPCs each get a guest: each guest has the address the platform chose for it,
 * reaches its own gateway, and cannot reach the other guest.
 * - Different CIDRs on one host: nothing is routed between VPCs.
 * - The same CIDR for two tenants: libvirt refuses one subnet twice on a host, so such VPCs live
 *   on different hosts (the platform's placement rule, tested on simulated hosts in test/medium);
 *   here on two real hosts, each its own libvirtd in its own network and mount namespace.
 */
describe('VPCs stay apart (real guests)', () => {
  let t: TestApp;
  const { imageDir, dataDir } = vmEnv();
  const hosts: Host[] = [];
  const guests: Guest[] = [];
  let n = 0;

  const openHost = async (uri: string): Promise<Host> => {
    const conn = await LibvirtConnection.open(uri);
    const driver = new LibvirtHostBackend(conn);
    const poolId = randomUUID();
    const pool = libvirtNames.storagePool(poolId);
    mkdirSync(join(dataDir, 'pools'), { recursive: true });
    await driver.ensurePool({ type: 'dir', name: pool, path: join(dataDir, 'pools', poolId) });
    const host = { conn, driver, pool };
    hosts.push(host);
    return host;
  };

  /** A tenant with a VPC of this CIDR; `taken` addresses are handed out before the guest's. */
  const tenantVpc = async (name: string, cidr: string, taken = 0) => {
    const tenant = await createTenant(t, name);
    const vpc = (await tenant.client.call('POST', '/v1/vpcs', { name: 'net', cidr })).body;
    expect(vpc.cidr).toBe(cidr);
    const vpcs = t.app.get(VpcsService);
    const db = t.app.get(Database);
    for (let i = 0; i < taken; i++)
      await db.transaction((tx) => vpcs.allocateAddress(tx, tenant.id, vpc.id, { kind: 'node', id: randomUUID() }));
    const nodeId = randomUUID();
    const address = await db.transaction((tx) =>
      vpcs.allocateAddress(tx, tenant.id, vpc.id, { kind: 'node', id: nodeId }),
    );
    return { vpc, nodeId, address };
  };

  /** The VPC's network on the host and a guest in it that reports what it can reach. */
  const place = async (
    host: Host,
    v: { vpc: { id: string; gateway: string }; nodeId: string; address: string },
  ): Promise<Guest> => {
    const g: Guest = {
      host,
      nodeId: v.nodeId,
      network: libvirtNames.vpcNetwork(v.vpc.id),
      address: v.address,
      log: join(dataDir, `${v.nodeId}.console.log`),
      mac: `52:54:00:88:00:${(++n).toString(16).padStart(2, '0')}`,
    };
    guests.push(g);
    await host.driver.ensureNetwork({
      name: g.network,
      bridge: libvirtNames.vpcBridge(v.vpc.id),
      gateway: v.vpc.gateway,
      prefix: 24,
      hosts: [],
    });
    await host.driver.setDhcpHost(g.network, { mac: g.mac, ip: g.address, name: `guest-${n}` });
    return g;
  };

  const boot = async (g: Guest, other: Guest) => {
    const userData = [
      '#!/bin/sh',
      `if ping -c 2 -W 2 ${g.address.replace(/\.\d+$/, '.1')} >/dev/null 2>&1; then echo "PROBE gateway=ok"; else echo "PROBE gateway=fail"; fi`,
      `if ping -c 3 -W 2 ${other.address} >/dev/null 2>&1; then echo "PROBE other=reached"; else echo "PROBE other=unreachable"; fi`,
      'echo PROBE done',
    ].join('\n');
    await g.host.driver.ensureContentVolume(g.host.pool, libvirtNames.seedVolume(g.nodeId), async () =>
      buildNoCloudSeed({ instanceId: g.nodeId, hostname: `guest-${g.nodeId.slice(0, 8)}`, userData }),
    );
    await g.host.driver.ensureDomain({
      name: libvirtNames.domain(g.nodeId),
      type: 'qemu',
      vcpus: 1,
      memoryMiB: 256,
      boot: testImageBoot(imageDir),
      disks: [
        {
          pool: g.host.pool,
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
    await g.host.driver.startDomain(libvirtNames.domain(g.nodeId));
  };

  /** Both guests boot with their own address, reach their gateway and not each other. */
  const proveApart = async (a: Guest, b: Guest) => {
    await Promise.all([boot(a, b), boot(b, a)]);
    for (const g of [a, b]) {
      await waitForConsole(g.log, new RegExp(`KAAS_STAGE network-up ip=${g.address.replace(/\./g, '\\.')}(\\s|$)`));
      await waitForConsole(g.log, /PROBE done/);
      const text = readFileSync(g.log, 'utf8');
      expect(text).toContain('PROBE gateway=ok');
      expect(text).toContain('PROBE other=unreachable');
    }
  };

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    for (const g of guests) {
      await g.host.driver.removeDomain(libvirtNames.domain(g.nodeId)).catch(() => undefined);
      await g.host.driver.removeVolume(g.host.pool, libvirtNames.seedVolume(g.nodeId)).catch(() => undefined);
      await g.host.driver.removeNetwork(g.network).catch(() => undefined);
    }
    for (const h of hosts) {
      await h.driver.removePool(h.pool).catch(() => undefined);
      await h.conn.close();
    }
    await t.close();
  });

  it('different CIDRs on one host: each guest has its platform-chosen address and no way to the other', async () => {
    const host = await openHost('qemu:///system');
    const a = await tenantVpc('tenant-a', '10.88.0.0/24');
    // Tenant B's first address is taken by something else: the guest must get the one chosen.
    const b = await tenantVpc('tenant-b', '10.89.0.0/24', 1);
    expect([a.address, b.address]).toEqual(['10.88.0.2', '10.89.0.3']);
    await proveApart(await place(host, a), await place(host, b));
  });

  it('the same CIDR for two tenants, on two hosts: each its own address, neither reaches the other', async () => {
    const second = secondHost();
    const [host1, host2] = [await openHost('qemu:///system'), await openHost(second.uri)];
    const c = await tenantVpc('tenant-c', '10.90.0.0/24');
    const d = await tenantVpc('tenant-d', '10.90.0.0/24', 1);
    expect([c.address, d.address]).toEqual(['10.90.0.2', '10.90.0.3']);
    const gc = await place(host1, c);
    // One host cannot carry both: libvirt refuses a second network on a subnet in use.
    await expect(
      host1.driver.ensureNetwork({
        name: libvirtNames.vpcNetwork(d.vpc.id),
        bridge: libvirtNames.vpcBridge(d.vpc.id),
        gateway: d.vpc.gateway,
        prefix: 24,
        hosts: [],
      }),
    ).rejects.toThrow(/in use|overlap|collides|exists/i);
    await host1.driver.removeNetwork(libvirtNames.vpcNetwork(d.vpc.id)).catch(() => undefined);
    const gd = await place(host2, d);
    await proveApart(gc, gd);
    // Each host sees its own tenant's network only, and its bridge holds the gateway address.
    expect(await host1.driver.listNetworks()).toContain(gc.network);
    expect(await host1.driver.listNetworks()).not.toContain(gd.network);
    expect(await host2.driver.listNetworks()).toContain(gd.network);
    expect(await host2.driver.listNetworks()).not.toContain(gc.network);
    // From each host, its own tenant's guest answers and the other tenant's address does not.
    const ping = (host: 1 | 2, address: string) =>
      (host === 1 ? run('ping', ['-c', '2', '-W', '1', address]) : second.exec(['ping', '-c', '2', '-W', '1', address]))
        .then((r) => r.stdout)
        .catch((err: { stdout?: string }) => err.stdout ?? '');
    expect(await ping(1, gc.address)).toMatch(/ 0% packet loss/);
    expect(await ping(1, gd.address)).toMatch(/100% packet loss/);
    expect(await ping(2, gd.address)).toMatch(/ 0% packet loss/);
    expect(await ping(2, gc.address)).toMatch(/100% packet loss/);
  });
});
