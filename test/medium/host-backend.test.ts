import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SimulatedHostBackend } from '../../src/hypervisor/backends/index.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { domainXml, type DomainSpec, KAAS_METADATA_NS } from '../../src/hypervisor/xml/domain-xml.js';
import { libvirtNames, macFor } from '../../src/hypervisor/xml/names.js';

describe('The simulated host backend on the real binding and libvirt test driver', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;
  let driver: SimulatedHostBackend;
  const ids = {
    tenantId: randomUUID(),
    clusterId: randomUUID(),
    nodeId: randomUUID(),
    vpcId: randomUUID(),
    poolId: randomUUID(),
  };
  const pool = libvirtNames.storagePool(ids.poolId);
  const network = libvirtNames.vpcNetwork(ids.vpcId);
  const domain = libvirtNames.domain(ids.nodeId);

  function spec(): DomainSpec {
    return {
      name: domain,
      type: 'qemu',
      vcpus: 1,
      memoryMiB: 256,
      boot: { kind: 'kernel', kernel: '/nonexistent/vmlinuz', initrd: '/nonexistent/initrd', cmdline: 'console=ttyS0' },
      disks: [
        {
          pool,
          volume: libvirtNames.nodeVolume(ids.nodeId),
          format: 'qcow2',
          device: 'disk',
          bus: 'virtio',
          target: 'vda',
        },
      ],
      nics: [{ network, mac: macFor(ids.nodeId) }],
      owner: { ...ids, role: 'worker', clusterName: `evil"'<>&`, nodeName: 'w-0' },
    };
  }

  // A test:///FILE connection has state of its own, so the whole story runs on one connection.
  beforeAll(async () => {
    host = await createLibvirtTestHost();
    conn = await LibvirtConnection.open(host.uri);
    driver = new SimulatedHostBackend(conn, { bootMs: 0, installMs: 0 });
  });
  afterAll(async () => {
    await conn.close();
    await host.cleanup();
  });

  it('creates pools, volumes (with copy-on-write backing), networks and domains idempotently', async () => {
    expect(await driver.ensurePool({ type: 'dir', name: pool, path: `${host.dir}/pool` })).toEqual({ created: true });
    expect(await driver.ensurePool({ type: 'dir', name: pool, path: `${host.dir}/pool` })).toEqual({ created: false });
    const base = await driver.ensureVolume(pool, { name: 'base.qcow2', capacityBytes: 2 ** 30, format: 'qcow2' });
    expect(base.created).toBe(true);
    const overlay = {
      name: libvirtNames.nodeVolume(ids.nodeId),
      capacityBytes: 10 * 2 ** 30,
      format: 'qcow2' as const,
      backing: { path: base.path, format: 'qcow2' as const },
    };
    expect((await driver.ensureVolume(pool, overlay)).created).toBe(true);
    expect((await driver.ensureVolume(pool, overlay)).created).toBe(false);
    expect(await conn.getVolumeXML(pool, overlay.name)).toContain('<backingStore>');
    expect((await conn.getVolumeInfo(pool, overlay.name)).capacity).toBe(10 * 2 ** 30);

    const net = {
      name: network,
      bridge: libvirtNames.vpcBridge(ids.vpcId),
      gateway: '10.20.0.1',
      prefix: 24,
      hosts: [],
    };
    expect(await driver.ensureNetwork(net)).toEqual({ created: true });
    expect(await driver.ensureNetwork(net)).toEqual({ created: false });
    expect(await conn.getNetworkBridgeName(network)).toBe(net.bridge);

    expect(await driver.ensureDomain(spec())).toEqual({ created: true });
    expect(await driver.ensureDomain(spec())).toEqual({ created: false });
    expect(await driver.domainState(domain)).toBe('shutoff');
    expect(await driver.startDomain(domain)).toEqual({ started: true });
    expect(await driver.startDomain(domain)).toEqual({ started: false });
    expect(await driver.domainState(domain)).toBe('running');
    expect(await driver.domainStats(domain)).toEqual({
      state: 'running',
      cpuTimeNs: expect.any(Number),
      memoryKiB: 256 * 1024,
      vcpus: 1,
    });
  });

  it('keeps one static DHCP entry per MAC, live, and removes it', async () => {
    const mac = macFor(ids.nodeId);
    await driver.setDhcpHost(network, { mac, ip: '10.20.0.5', name: 'w-0' });
    await driver.setDhcpHost(network, { mac, ip: '10.20.0.5', name: 'w-0' });
    let xml = await conn.getNetworkXML(network);
    expect(xml.match(new RegExp(mac, 'g'))).toHaveLength(1);
    expect(xml).toContain("ip='10.20.0.5'");
    await driver.setDhcpHost(network, { mac, ip: '10.20.0.6', name: 'w-0' });
    xml = await conn.getNetworkXML(network);
    expect(xml).toContain("ip='10.20.0.6'");
    expect(xml).not.toContain("ip='10.20.0.5'");
    await driver.removeDhcpHost(network, { mac, ip: '10.20.0.6' });
    await driver.removeDhcpHost(network, { mac, ip: '10.20.0.6' });
    expect(await conn.getNetworkXML(network)).not.toContain(mac);
  });

  it('ensures one pool and one network from several jobs at once', async () => {
    const other = { pool: libvirtNames.storagePool(randomUUID()), vpcId: randomUUID() };
    const net = {
      name: libvirtNames.vpcNetwork(other.vpcId),
      bridge: libvirtNames.vpcBridge(other.vpcId),
      gateway: '10.21.0.1',
      prefix: 24,
      hosts: [],
    };
    const pools = await Promise.all(
      Array.from({ length: 4 }, () => driver.ensurePool({ type: 'dir', name: other.pool, path: `${host.dir}/p2` })),
    );
    const networks = await Promise.all(Array.from({ length: 4 }, () => driver.ensureNetwork(net)));
    expect(pools.filter((r) => r.created).length).toBeLessThanOrEqual(1);
    expect(networks.filter((r) => r.created).length).toBeLessThanOrEqual(1);
    expect(await conn.isPoolActive(other.pool)).toBe(true);
    expect(await conn.isNetworkActive(net.name)).toBe(true);
    await driver.removeNetwork(net.name);
    await driver.removePool(other.pool);
  });

  it('reports its inventory: domains with owners, volumes by pool, DHCP entries by network', async () => {
    await driver.setDhcpHost(network, { mac: macFor(ids.nodeId), ip: '10.20.0.7', name: 'w-0' });
    const inventory = await driver.inventory();
    expect(inventory.domains.map((d) => d.owner?.nodeId)).toEqual([ids.nodeId]);
    expect(inventory.pools).toEqual([
      { name: pool, volumes: expect.arrayContaining([libvirtNames.nodeVolume(ids.nodeId)]) },
    ]);
    expect(inventory.networks).toEqual([{ name: network, dhcpHosts: [{ mac: macFor(ids.nodeId), ip: '10.20.0.7' }] }]);
    await driver.removeDhcpHost(network, { mac: macFor(ids.nodeId), ip: '10.20.0.7' });
  });

  it('finds its domains by metadata, with hostile names escaped', async () => {
    const owned = await driver.listOwnedDomains();
    expect(owned).toEqual([
      {
        name: domain,
        active: true,
        owner: { tenantId: ids.tenantId, clusterId: ids.clusterId, nodeId: ids.nodeId, role: 'worker' },
      },
    ]);
    // libvirt parsed the escaped value as text and wrote it back: the name survived whole.
    expect(await conn.getDomainMetadata(domain, KAAS_METADATA_NS)).toContain(
      `<cluster-name>evil"'&lt;&gt;&amp;</cluster-name>`,
    );
    expect(domainXml(spec())).toContain('evil&quot;&apos;&lt;&gt;&amp;');
  });

  it('shuts down (destroying after the timeout when the guest ignores it) and tears everything down twice', async () => {
    expect(['stopped', 'destroyed']).toContain(await driver.shutdownDomain(domain, 300));
    expect(await driver.domainState(domain)).toBe('shutoff');
    for (let i = 0; i < 2; i++) {
      await driver.removeDomain(domain);
      await driver.removeVolume(pool, libvirtNames.nodeVolume(ids.nodeId));
      await driver.removeVolume(pool, 'base.qcow2');
      await driver.removeNetwork(network);
      await driver.removePool(pool);
    }
    expect(await driver.domainState(domain)).toBe('absent');
    expect(await driver.listOwnedDomains()).toEqual([]);
    expect(await driver.listNetworks()).toEqual([]);
    expect(await driver.listPools()).toEqual([]);
    expect(await driver.shutdownDomain(domain, 100)).toBe('absent');
  });
});
