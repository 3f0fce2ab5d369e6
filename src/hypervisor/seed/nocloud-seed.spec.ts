import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import {
  buildNoCloudSeed,
  DEFAULT_NETWORK_CONFIG,
  renderMetaData,
  validateHostname,
  validateInstanceId,
  type NoCloudSeed,
} from './nocloud-seed.js';
import { readRootFiles, readVolumeDescriptor } from './testing/iso-reader.js';

const DATE = new Date('2024-05-06T07:08:09Z');

const SEED: NoCloudSeed = {
  instanceId: 'vm-0123-abcd',
  hostname: 'worker-1',
  userData: '#cloud-config\npackages: [htop]\n# trailing comment without newline',
  date: DATE,
};

const filesOf = (seed: NoCloudSeed): Map<string, string> =>
  new Map([...readRootFiles(buildNoCloudSeed(seed), 'joliet')].map(([k, v]) => [k, v.toString('utf8')]));

describe('buildNoCloudSeed', () => {
  it('labels the volume cidata', () => {
    const image = buildNoCloudSeed(SEED);
    expect(readVolumeDescriptor(image, 16).volumeIdField.toString('ascii').trimEnd()).toBe('cidata');
  });

  it('writes meta-data, user-data and network-config under their exact names', () => {
    const files = filesOf(SEED);
    expect([...files.keys()]).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(parse(files.get('meta-data') ?? '')).toEqual({
      'instance-id': 'vm-0123-abcd',
      'local-hostname': 'worker-1',
    });
    expect(files.get('user-data')).toBe(SEED.userData);
  });

  it('defaults network-config to DHCPv4 on the first ethernet NIC', () => {
    const files = filesOf(SEED);
    expect(files.get('network-config')).toBe(DEFAULT_NETWORK_CONFIG);
    expect(parse(DEFAULT_NETWORK_CONFIG)).toEqual({
      version: 2,
      ethernets: { id0: { match: { name: 'e*' }, dhcp4: true } },
    });
  });

  it('stores a given network-config and extra files verbatim', () => {
    const networkConfig = 'version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.5/24]\n';
    const blob = Buffer.from([0, 255, 10, 0x80]);
    const image = buildNoCloudSeed({
      ...SEED,
      networkConfig,
      extraFiles: [
        { name: 'vendor-data', data: '#cloud-config\n{}\n' },
        { name: 'blob.bin', data: blob },
      ],
    });
    const files = readRootFiles(image, 'joliet');
    expect(files.get('network-config')?.toString()).toBe(networkConfig);
    expect(files.get('vendor-data')?.toString()).toBe('#cloud-config\n{}\n');
    expect(files.get('blob.bin')?.equals(blob)).toBe(true);
  });

  it('keeps user-data byte-exact, including non-ASCII text', () => {
    const userData = '#!/bin/sh\necho "héllo ✓" > /etc/motd\n';
    expect(filesOf({ ...SEED, userData }).get('user-data')).toBe(userData);
  });

  it('refuses extra files that would replace generated ones', () => {
    for (const name of ['meta-data', 'user-data', 'network-config']) {
      expect(() => buildNoCloudSeed({ ...SEED, extraFiles: [{ name, data: 'x' }] })).toThrow(/would replace/);
    }
  });

  it('surfaces ISO name validation for extra files', () => {
    expect(() => buildNoCloudSeed({ ...SEED, extraFiles: [{ name: 'Vendor-Data', data: 'x' }] })).toThrow(
      /invalid ISO file name/,
    );
  });

  it('is deterministic for a fixed date', () => {
    expect(buildNoCloudSeed(SEED).equals(buildNoCloudSeed(SEED))).toBe(true);
  });
});

describe('renderMetaData', () => {
  it('quotes values so YAML keeps them as strings', () => {
    for (const [id, host] of [
      ['1e3', '123'],
      ['no', 'on'],
      ['true', 'null'],
      ['0x1F', 'y'],
      ['a:b', 'x-1'],
    ]) {
      expect(parse(renderMetaData(id, host))).toEqual({ 'instance-id': id, 'local-hostname': host });
    }
  });

  it('has the documented shape', () => {
    expect(renderMetaData('i-1', 'node')).toBe('instance-id: "i-1"\nlocal-hostname: "node"\n');
  });
});

describe('seed input validation', () => {
  it.each(['', '-a', 'a-', 'a.b', 'a_b', 'a b', 'x'.repeat(64), 'ünicode'])('rejects hostname %j', (hostname) => {
    expect(() => validateHostname(hostname)).toThrow(/invalid hostname/);
    expect(() => buildNoCloudSeed({ ...SEED, hostname })).toThrow(/invalid hostname/);
  });

  it.each(['a', 'A1', 'a-b', '0', 'x'.repeat(63)])('accepts hostname %j', (hostname) => {
    expect(() => validateHostname(hostname)).not.toThrow();
  });

  it.each(['', '../x', 'a/b', '.hidden', ' i-1', 'i-1\n', 'x'.repeat(129), 'i "1"'])(
    'rejects instance id %j',
    (instanceId) => {
      expect(() => validateInstanceId(instanceId)).toThrow(/invalid instance id/);
      expect(() => buildNoCloudSeed({ ...SEED, instanceId })).toThrow(/invalid instance id/);
    },
  );

  it.each(['i-0abc', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'vm.1:2_3', 'x'.repeat(128)])(
    'accepts instance id %j',
    (instanceId) => {
      expect(() => validateInstanceId(instanceId)).not.toThrow();
    },
  );
});
