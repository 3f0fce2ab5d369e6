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
    poolId: randomUUID(),
  };
  const pool = libvirtNames.storagePool(ids.poolId);
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
      // The node's NIC as the platform makes it: a port of OVN's integration bridge.
      nics: [
        {
          bridge: 'br-int',
          mac: macFor(ids.nodeId),
          openvswitch: { interfaceId: ids.nodeId },
          mtu: 1442,
          checksumOffload: false,
        },
      ],
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

  it('creates pools, volumes (with copy-on-write backing) and domains idempotently', async () => {
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

    expect(await driver.ensureDomain(spec())).toEqual({ created: true });
    expect(await driver.ensureDomain(spec())).toEqual({ created: false });
    // libvirt keeps the NIC as given: on the integration bridge, bound to the node's OVN port.
    expect(await conn.getDomainXML(domain)).toMatch(
      new RegExp(`<virtualport type='openvswitch'>\\s*<parameters interfaceid='${ids.nodeId}'/>`),
    );
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

  it('ensures one pool from several jobs at once', async () => {
    const other = libvirtNames.storagePool(randomUUID());
    const pools = await Promise.all(
      Array.from({ length: 4 }, () => driver.ensurePool({ type: 'dir', name: other, path: `${host.dir}/p2` })),
    );
    expect(pools.filter((r) => r.created).length).toBeLessThanOrEqual(1);
    expect(await conn.isPoolActive(other)).toBe(true);
    await driver.removePool(other);
  });

  it('reports its inventory: domains with owners, volumes by pool', async () => {
    const inventory = await driver.inventory();
    expect(inventory).toEqual({
      domains: [expect.objectContaining({ name: domain, owner: expect.objectContaining({ nodeId: ids.nodeId }) })],
      pools: [{ name: pool, volumes: expect.arrayContaining([libvirtNames.nodeVolume(ids.nodeId)]) }],
    });
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
      await driver.removePool(pool);
    }
    expect(await driver.domainState(domain)).toBe('absent');
    expect(await driver.listOwnedDomains()).toEqual([]);
    expect(await driver.listPools()).toEqual([]);
    expect(await driver.shutdownDomain(domain, 100)).toBe('absent');
  });
});
