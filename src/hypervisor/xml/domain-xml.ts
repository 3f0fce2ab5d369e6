import { el, renderXml, type XmlElement } from './xml-builder.js';

export const KAAS_METADATA_NS = 'urn:kaas:metadata:1';
export const KAAS_METADATA_KEY = 'kaas';

/**
 * Target name of the virtio-serial channel over which a guest sends its status, one JSON line a
 * second (scripts/guest/rootfs/etc/kaas/status-channel writes it; the platform reads it through
 * libvirt with virDomainOpenChannel). In the guest it is /dev/virtio-ports/<this name>.
 */
export const GUEST_STATUS_CHANNEL = 'org.kaas.status.0';

export type DomainType = 'kvm' | 'qemu';

export interface DomainDisk {
  /** A volume in a libvirt storage pool. */
  pool: string;
  volume: string;
  format: 'qcow2' | 'raw';
  device: 'disk' | 'cdrom';
  bus: 'virtio' | 'sata' | 'scsi' | 'ide';
  target: string;
  readonly?: boolean;
}

/** A NIC on a bridge of the host: a Linux bridge, or Open vSwitch's integration bridge. */
export interface BridgeNic {
  bridge: string;
  mac: string;
  /**
   * libvirt plugs the tap into the Open vSwitch bridge with `external_ids:iface-id` set to
   * `interfaceId`, which ovn-controller binds to the logical switch port of that name. libvirt
   * accepts only a UUID here, which is why node ports are named by node id.
   */
  openvswitch?: { interfaceId: string };
  /** The tap's MTU, also offered to a virtio guest as its link MTU. */
  mtu?: number;
  /**
   * False turns checksum and segmentation offload off on both sides of the virtio NIC: Open
   * vSwitch's userspace datapath does not complete checksums left to offload, so TCP through it
   * breaks (ICMP does not).
   */
  checksumOffload?: boolean;
}

export interface OwnerMetadata {
  tenantId: string;
  clusterId: string;
  nodeId: string;
  role: string;
  /** Human names, for people reading `virsh dumpxml`; escaped like everything else. */
  clusterName?: string;
  nodeName?: string;
}

export interface DomainSpec {
  name: string;
  uuid?: string;
  type: DomainType;
  vcpus: number;
  memoryMiB: number;
  /** Direct kernel boot (the small test image) or boot from the first disk (cloud images). */
  boot: { kind: 'disk' } | { kind: 'kernel'; kernel: string; initrd: string; cmdline: string };
  disks: DomainDisk[];
  nics: BridgeNic[];
  /** Serial console written to this file on the host. */
  consoleLog?: string;
  owner: OwnerMetadata;
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const TARGET = /^(vd|sd|hd)[a-z]$/;
/** Linux interface names: at most 15 characters, none of them '/' or blanks. */
const BRIDGE = /^[A-Za-z0-9_.-]{1,15}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkNic(nic: BridgeNic): void {
  if (!MAC.test(nic.mac)) throw new Error(`invalid MAC ${nic.mac}`);
  if (!BRIDGE.test(nic.bridge)) throw new Error(`invalid bridge name ${nic.bridge}`);
  if (nic.openvswitch && !UUID.test(nic.openvswitch.interfaceId))
    throw new Error(`invalid Open vSwitch interfaceid ${nic.openvswitch.interfaceId} (libvirt wants a UUID)`);
  if (nic.mtu !== undefined && (!Number.isInteger(nic.mtu) || nic.mtu < 68 || nic.mtu > 65535))
    throw new Error(`invalid MTU ${nic.mtu}`);
}

function interfaceElement(nic: BridgeNic): XmlElement {
  const guestOffload = { csum: 'off', tso4: 'off', tso6: 'off', ecn: 'off', ufo: 'off' };
  const hostOffload = { csum: 'off', gso: 'off', tso4: 'off', tso6: 'off', ecn: 'off', ufo: 'off' };
  return el(
    'interface',
    { type: 'bridge' },
    el('source', { bridge: nic.bridge }),
    nic.openvswitch
      ? el('virtualport', { type: 'openvswitch' }, el('parameters', { interfaceid: nic.openvswitch.interfaceId }))
      : undefined,
    el('mac', { address: nic.mac }),
    el('model', { type: 'virtio' }),
    nic.checksumOffload === false
      ? el('driver', { name: 'qemu' }, el('host', hostOffload), el('guest', guestOffload))
      : undefined,
    nic.mtu !== undefined ? el('mtu', { size: nic.mtu }) : undefined,
  );
}

export function ownerMetadataElement(owner: OwnerMetadata): XmlElement {
  return el(
    'kaas:owner',
    {
      'xmlns:kaas': KAAS_METADATA_NS,
      tenant: owner.tenantId,
      cluster: owner.clusterId,
      node: owner.nodeId,
      role: owner.role,
    },
    owner.clusterName !== undefined ? el('kaas:cluster-name', {}, owner.clusterName) : undefined,
    owner.nodeName !== undefined ? el('kaas:node-name', {}, owner.nodeName) : undefined,
  );
}

/** The element set with virDomainSetMetadata (without the namespace declaration libvirt adds). */
export function ownerMetadataXml(owner: OwnerMetadata): string {
  return renderXml(ownerMetadataElement(owner));
}

/** Reads the owner ids back from `virsh dumpxml` output or a metadata element. */
export function parseOwnerMetadata(
  xml: string,
): Pick<OwnerMetadata, 'tenantId' | 'clusterId' | 'nodeId' | 'role'> | undefined {
  const m = /<(?:\w+:)?owner\b([^>]*)>?/.exec(xml);
  if (!m) return undefined;
  const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(m[1])?.[1];
  const tenantId = attr('tenant');
  const clusterId = attr('cluster');
  const nodeId = attr('node');
  const role = attr('role');
  if (!tenantId || !clusterId || !nodeId || !role) return undefined;
  return { tenantId, clusterId, nodeId, role };
}

export function domainXml(spec: DomainSpec): string {
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > 512)
    throw new Error(`invalid vcpus ${spec.vcpus}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 64) throw new Error(`invalid memoryMiB ${spec.memoryMiB}`);
  for (const nic of spec.nics) checkNic(nic);
  for (const disk of spec.disks) if (!TARGET.test(disk.target)) throw new Error(`invalid disk target ${disk.target}`);
  const boot = spec.boot;
  const os =
    boot.kind === 'kernel'
      ? el(
          'os',
          {},
          el('type', { arch: 'x86_64', machine: 'pc' }, 'hvm'),
          el('kernel', {}, boot.kernel),
          el('initrd', {}, boot.initrd),
          el('cmdline', {}, boot.cmdline),
        )
      : el('os', {}, el('type', { arch: 'x86_64', machine: 'pc' }, 'hvm'), el('boot', { dev: 'hd' }));
  const doc = el(
    'domain',
    { type: spec.type },
    el('name', {}, spec.name),
    spec.uuid ? el('uuid', {}, spec.uuid) : undefined,
    el('title', {}, `kaas ${spec.owner.role} ${spec.owner.nodeName ?? spec.owner.nodeId}`),
    el('metadata', {}, ownerMetadataElement(spec.owner)),
    el('memory', { unit: 'MiB' }, spec.memoryMiB),
    el('currentMemory', { unit: 'MiB' }, spec.memoryMiB),
    el('vcpu', { placement: 'static' }, spec.vcpus),
    os,
    // ACPI lets a graceful shutdown reach the guest; without it poweroff only halts.
    el('features', {}, el('acpi'), el('apic')),
    spec.type === 'kvm'
      ? el('cpu', { mode: 'host-passthrough' })
      : el('cpu', { mode: 'custom', match: 'exact' }, el('model', { fallback: 'allow' }, 'qemu64')),
    el('on_poweroff', {}, 'destroy'),
    el('on_reboot', {}, 'restart'),
    el('on_crash', {}, 'destroy'),
    el(
      'devices',
      {},
      ...spec.disks.map((d) =>
        el(
          'disk',
          { type: 'volume', device: d.device },
          el('driver', { name: 'qemu', type: d.format }),
          el('source', { pool: d.pool, volume: d.volume }),
          el('target', { dev: d.target, bus: d.bus }),
          d.readonly || d.device === 'cdrom' ? el('readonly') : undefined,
        ),
      ),
      ...spec.nics.map(interfaceElement),
      spec.consoleLog
        ? el('serial', { type: 'file' }, el('source', { path: spec.consoleLog }), el('target', { port: 0 }))
        : el('serial', { type: 'pty' }, el('target', { port: 0 })),
      spec.consoleLog
        ? el(
            'console',
            { type: 'file' },
            el('source', { path: spec.consoleLog }),
            el('target', { type: 'serial', port: 0 }),
          )
        : el('console', { type: 'pty' }, el('target', { type: 'serial', port: 0 })),
      // qemu lets virDomainOpenChannel read only channels backed by a unix socket (libvirt picks
      // its path); libvirt's test driver keeps the element and opens no channel.
      el('channel', { type: 'unix' }, el('target', { type: 'virtio', name: GUEST_STATUS_CHANNEL })),
      el('video', {}, el('model', { type: 'none' })),
      el('memballoon', { model: 'none' }),
    ),
  );
  return renderXml(doc);
}
