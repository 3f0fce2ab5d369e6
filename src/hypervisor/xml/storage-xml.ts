import { el, renderXml } from './xml-builder.js';

export type PoolSpec =
  | { type: 'dir'; name: string; path: string }
  | { type: 'logical'; name: string; volumeGroup: string; devices: string[] }
  | {
      type: 'rbd';
      name: string;
      cephPool: string;
      monitors: { host: string; port?: number }[];
      authUser?: string;
      secretUuid?: string;
    };

export function poolXml(spec: PoolSpec): string {
  switch (spec.type) {
    case 'dir':
      return renderXml(
        el('pool', { type: 'dir' }, el('name', {}, spec.name), el('target', {}, el('path', {}, spec.path))),
      );
    case 'logical':
      return renderXml(
        el(
          'pool',
          { type: 'logical' },
          el('name', {}, spec.name),
          el(
            'source',
            {},
            ...spec.devices.map((d) => el('device', { path: d })),
            el('name', {}, spec.volumeGroup),
            el('format', { type: 'lvm2' }),
          ),
          el('target', {}, el('path', {}, `/dev/${spec.volumeGroup}`)),
        ),
      );
    case 'rbd':
      return renderXml(
        el(
          'pool',
          { type: 'rbd' },
          el('name', {}, spec.name),
          el(
            'source',
            {},
            el('name', {}, spec.cephPool),
            ...spec.monitors.map((m) => el('host', { name: m.host, port: m.port })),
            spec.authUser
              ? el('auth', { type: 'ceph', username: spec.authUser }, el('secret', { uuid: spec.secretUuid }))
              : undefined,
          ),
        ),
      );
  }
}

export interface VolumeSpec {
  name: string;
  capacityBytes: number;
  format: 'qcow2' | 'raw';
  /** Copy-on-write overlay on a base image (path of the backing volume). */
  backing?: { path: string; format: 'qcow2' | 'raw' };
}

export function volumeXml(spec: VolumeSpec): string {
  return renderXml(
    el(
      'volume',
      {},
      el('name', {}, spec.name),
      el('capacity', { unit: 'bytes' }, spec.capacityBytes),
      el('allocation', { unit: 'bytes' }, 0),
      el('target', {}, el('format', { type: spec.format })),
      spec.backing
        ? el('backingStore', {}, el('path', {}, spec.backing.path), el('format', { type: spec.backing.format }))
        : undefined,
    ),
  );
}
