import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  domainXml,
  type DomainSpec,
  GUEST_STATUS_CHANNEL,
  ownerMetadataXml,
  parseOwnerMetadata,
} from './domain-xml.js';
import { libvirtNames, macFor } from './names.js';
import { poolXml, volumeXml } from './storage-xml.js';
import { el, escapeXml, renderXml } from './xml-builder.js';

const GOLDEN = join(import.meta.dirname, 'golden');

/** Compares with golden/NAME; `UPDATE_GOLDEN=1` rewrites the files after a reviewed change. */
function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, `${actual}\n`);
  expect(actual).toBe(readFileSync(file, 'utf8').replace(/\n$/, ''));
}

const ids = {
  tenantId: '11111111-1111-4111-8111-111111111111',
  clusterId: '22222222-2222-4222-8222-222222222222',
  nodeId: '33333333-3333-4333-8333-333333333333',
  poolId: '55555555-5555-4555-8555-555555555555',
};

function spec(overrides: Partial<DomainSpec> = {}): DomainSpec {
  return {
    name: libvirtNames.domain(ids.nodeId),
    type: 'qemu',
    vcpus: 2,
    memoryMiB: 2048,
    boot: {
      kind: 'kernel',
      kernel: '/var/lib/kaas/images/vmlinuz',
      initrd: '/var/lib/kaas/images/initramfs.cpio.gz',
      cmdline: 'console=ttyS0 quiet',
    },
    disks: [
      {
        pool: libvirtNames.storagePool(ids.poolId),
        volume: libvirtNames.nodeVolume(ids.nodeId),
        format: 'qcow2',
        device: 'disk',
        bus: 'virtio',
        target: 'vda',
      },
      {
        pool: libvirtNames.storagePool(ids.poolId),
        volume: libvirtNames.seedVolume(ids.nodeId),
        format: 'raw',
        device: 'cdrom',
        bus: 'sata',
        target: 'sda',
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
    consoleLog: '/var/log/kaas/console/node.log',
    owner: {
      tenantId: ids.tenantId,
      clusterId: ids.clusterId,
      nodeId: ids.nodeId,
      role: 'master',
      clusterName: 'web',
      nodeName: 'web-master-0',
    },
    ...overrides,
  };
}

describe('libvirt XML', () => {
  it('builds a software-emulated domain with kernel boot (golden)', () => {
    golden('domain-qemu-kernel.xml', domainXml(spec()));
  });

  it('builds a KVM domain booting from its disk (golden)', () => {
    golden('domain-kvm-disk.xml', domainXml(spec({ type: 'kvm', boot: { kind: 'disk' }, consoleLog: undefined })));
  });

  it('builds a domain whose NIC plugs into Open vSwitch for OVN, beside one on a Linux bridge (golden)', () => {
    const xml = domainXml(spec({ nics: [...spec().nics, { bridge: 'br0', mac: '52:54:00:aa:bb:02' }] }));
    golden('domain-qemu-openvswitch.xml', xml);
    // A bridge NIC without the options adds nothing.
    expect(xml.match(/<virtualport /g)).toHaveLength(1);
    expect(xml.match(/<driver name="qemu">/g)).toHaveLength(1);
    expect(xml.match(/<mtu /g)).toHaveLength(1);
  });

  it('builds dir, logical and rbd pools and a copy-on-write volume (golden)', () => {
    golden('pool-dir.xml', poolXml({ type: 'dir', name: 'kaas-pool-x', path: '/var/lib/kaas/pools/x' }));
    golden(
      'pool-logical.xml',
      poolXml({ type: 'logical', name: 'kaas-pool-y', volumeGroup: 'vg0', devices: ['/dev/sdb'] }),
    );
    golden(
      'pool-rbd.xml',
      poolXml({
        type: 'rbd',
        name: 'kaas-pool-z',
        cephPool: 'rbd',
        monitors: [{ host: 'mon1', port: 6789 }],
        authUser: 'admin',
        secretUuid: ids.poolId,
      }),
    );
    golden(
      'volume-overlay.xml',
      volumeXml({
        name: 'n.qcow2',
        capacityBytes: 20 * 2 ** 30,
        format: 'qcow2',
        backing: { path: '/images/base.qcow2', format: 'qcow2' },
      }),
    );
  });

  it('escapes hostile names everywhere they can appear', () => {
    const hostile = `"><devices><disk type='file'><source file='/etc/shadow'/></disk></devices><x a="&amp;`;
    const xml = domainXml(
      spec({
        owner: {
          tenantId: ids.tenantId,
          clusterId: ids.clusterId,
          nodeId: ids.nodeId,
          role: 'worker',
          clusterName: hostile,
          nodeName: `$(rm -rf /)'; <!--`,
        },
      }),
    );
    expect(xml).not.toContain("/etc/shadow'/>");
    expect(xml).not.toContain('<!--');
    expect(xml).toContain('&quot;&gt;&lt;devices&gt;');
    expect(xml.match(/<disk /g)).toHaveLength(2);
    expect(escapeXml('a\u0000b')).toBe('a\ufffdb');
  });

  it('refuses invalid structure instead of emitting it', () => {
    expect(() => el('bad tag')).toThrow(/invalid XML tag/);
    expect(() => el('x', { 'on"click': 1 })).toThrow(/invalid XML attribute/);
    expect(() => domainXml(spec({ vcpus: 0 }))).toThrow(/invalid vcpus/);
    const ovs = { bridge: 'br-int', mac: macFor(ids.nodeId), openvswitch: { interfaceId: ids.nodeId } };
    expect(() => domainXml(spec({ nics: [{ ...ovs, openvswitch: { interfaceId: 'node-1' } }] }))).toThrow(
      /interfaceid node-1 \(libvirt wants a UUID\)/,
    );
    expect(() => domainXml(spec({ nics: [{ ...ovs, bridge: 'br-int-but-far-too-long' }] }))).toThrow(/bridge name/);
    expect(() => domainXml(spec({ nics: [{ ...ovs, bridge: 'br/../x' }] }))).toThrow(/bridge name/);
    expect(() => domainXml(spec({ nics: [{ ...ovs, mtu: 1442.5 }] }))).toThrow(/invalid MTU/);
    expect(() => domainXml(spec({ nics: [{ ...ovs, mac: 'zz' }] }))).toThrow(/invalid MAC/);
    expect(() => libvirtNames.domain('../../etc')).toThrow(/not a platform id/);
  });

  it('gives every domain, whatever its boot, one unix-socket virtio channel for guest status', () => {
    const expected = `<channel type="unix">\n      <target type="virtio" name="${GUEST_STATUS_CHANNEL}"/>\n    </channel>`;
    for (const xml of [
      domainXml(spec()),
      domainXml(spec({ type: 'kvm', boot: { kind: 'disk' }, consoleLog: undefined })),
    ]) {
      expect(xml).toContain(expected);
      expect(xml.match(/<channel /g)).toHaveLength(1);
    }
  });

  it('reads owner ids back from metadata', () => {
    const owner = { tenantId: ids.tenantId, clusterId: ids.clusterId, nodeId: ids.nodeId, role: 'worker' };
    expect(parseOwnerMetadata(ownerMetadataXml(owner))).toEqual(owner);
    expect(parseOwnerMetadata(domainXml(spec()))).toEqual({ ...owner, role: 'master' });
    expect(parseOwnerMetadata('<domain/>')).toBeUndefined();
  });

  it('derives stable, valid MACs', () => {
    expect(macFor(ids.nodeId)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macFor(ids.nodeId)).toBe(macFor(ids.nodeId));
    expect(macFor(ids.nodeId, 'salt')).not.toBe(macFor(ids.nodeId));
    expect(renderXml(el('a', {}, 'x', el('b')))).toBe('<a>\n  x\n  <b/>\n</a>');
  });
});
