import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { libvirtNames, ownerOf } from './names.js';

describe('platform names and the owners they carry', () => {
  const id = randomUUID();

  it('reads back the id of each kind from the name made for it', () => {
    expect(ownerOf.domain(libvirtNames.domain(id))).toBe(id);
    expect(ownerOf.storagePool(libvirtNames.storagePool(id))).toBe(id);
    expect(ownerOf.isBundleVolume(libvirtNames.bundleVolume('etcd', '3.4', 'abc'))).toBe(true);
  });

  it('names of another kind, or not the platform\u2019s, carry no owner', () => {
    expect(ownerOf.domain(libvirtNames.storagePool(id))).toBeUndefined();
    expect(ownerOf.domain(libvirtNames.nodeVolume(id))).toBeUndefined();
    expect(ownerOf.storagePool('kaas-pool-not-an-id')).toBeUndefined();
    expect(ownerOf.storagePool('default')).toBeUndefined();
    expect(ownerOf.isBundleVolume(libvirtNames.seedVolume(id))).toBe(false);
  });
});
