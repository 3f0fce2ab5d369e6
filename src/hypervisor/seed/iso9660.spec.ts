import { describe, expect, it } from '@jest/globals';
import { buildIso9660, ISO9660_BLOCK_SIZE, MAX_ISO_FILE_BYTES, type Iso9660File } from './iso9660.js';
import {
  block,
  decodeUcs2BE,
  readBoth16,
  readBoth32,
  readDirectory,
  readRootFiles,
  readVolumeDescriptor,
} from './testing/iso-reader.js';

const DATE = new Date('2024-05-06T07:08:09.120Z');

const FILES: Iso9660File[] = [
  { name: 'user-data', data: '#cloud-config\nruncmd: [echo hi]\n' },
  { name: 'meta-data', data: 'instance-id: "i-1"\n' },
  { name: 'network-config', data: Buffer.from('version: 2\n') },
  { name: 'empty', data: '' },
];

const build = (files: Iso9660File[] = FILES, date: Date = DATE): Buffer =>
  buildIso9660({ volumeId: 'cidata', files, date });

/** Deterministic pseudo-random bytes so a misplaced block cannot compare equal by accident. */
function patterned(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('buildIso9660 volume descriptors', () => {
  const image = build();

  it('has a primary, a Joliet supplementary and a terminator descriptor at blocks 16-18', () => {
    expect(image.subarray(0, 16 * ISO9660_BLOCK_SIZE).every((b) => b === 0)).toBe(true);
    for (const [n, type] of [
      [16, 1],
      [17, 2],
      [18, 255],
    ]) {
      const vd = block(image, n);
      expect(vd[0]).toBe(type);
      expect(vd.toString('ascii', 1, 6)).toBe('CD001');
      expect(vd[6]).toBe(1);
    }
    expect(
      block(image, 18)
        .subarray(7)
        .every((b) => b === 0),
    ).toBe(true);
  });

  it('writes the volume id byte-for-byte (lowercase kept) and as UCS-2 in the Joliet descriptor', () => {
    expect(readVolumeDescriptor(image, 16).volumeIdField.toString('ascii')).toBe('cidata'.padEnd(32, ' '));
    expect(decodeUcs2BE(readVolumeDescriptor(image, 17).volumeIdField)).toBe('cidata'.padEnd(16, ' '));
  });

  it('marks the supplementary descriptor as Joliet UCS-2 level 3 (%/E) and leaves it off the primary', () => {
    expect(block(image, 17).toString('ascii', 88, 91)).toBe('%/E');
    expect(
      block(image, 16)
        .subarray(88, 120)
        .every((b) => b === 0),
    ).toBe(true);
  });

  it('is a whole number of 2048-byte blocks matching the recorded volume size', () => {
    expect(image.length % ISO9660_BLOCK_SIZE).toBe(0);
    for (const n of [16, 17]) {
      const vd = block(image, n);
      expect(readBoth32(vd, 80)).toBe(image.length / ISO9660_BLOCK_SIZE);
      expect(readBoth16(vd, 120)).toBe(1); // volume set size
      expect(readBoth16(vd, 124)).toBe(1); // volume sequence number
      expect(readBoth16(vd, 128)).toBe(ISO9660_BLOCK_SIZE);
      expect(vd[881]).toBe(1); // file structure version
    }
  });

  it('points both path tables of each descriptor at its own root directory', () => {
    for (const n of [16, 17]) {
      const vd = readVolumeDescriptor(image, n);
      expect(readBoth32(vd.raw, 132)).toBe(10);
      const l = block(image, vd.raw.readUInt32LE(140));
      const m = block(image, vd.raw.readUInt32BE(148));
      expect([l[0], l.readUInt32LE(2), l.readUInt16LE(6), l[8]]).toEqual([1, vd.rootExtent, 1, 0]);
      expect([m[0], m.readUInt32BE(2), m.readUInt16BE(6), m[8]]).toEqual([1, vd.rootExtent, 1, 0]);
      expect(vd.raw.readUInt32LE(144)).toBe(0);
      expect(vd.raw.readUInt32BE(152)).toBe(0);
    }
    expect(readVolumeDescriptor(image, 16).rootExtent).not.toBe(readVolumeDescriptor(image, 17).rootExtent);
  });

  it('records the given date in UTC in descriptors and directory records', () => {
    const vd = block(image, 16);
    expect(vd.toString('ascii', 813, 829)).toBe('2024050607080912');
    expect(vd[829]).toBe(0);
    expect(vd.toString('ascii', 830, 846)).toBe('2024050607080912');
    expect(vd.toString('ascii', 847, 863)).toBe('0'.repeat(16));
    expect([...vd.subarray(156 + 18, 156 + 25)]).toEqual([124, 5, 6, 7, 8, 9, 0]);
  });
});

describe('buildIso9660 directories', () => {
  it('lists exact names in the Joliet tree and ISO names in the primary tree, with the same data', () => {
    const image = build();
    const joliet = readRootFiles(image, 'joliet');
    const primary = readRootFiles(image, 'primary');
    expect([...joliet.keys()]).toEqual(['empty', 'meta-data', 'network-config', 'user-data']);
    expect([...primary.keys()]).toEqual(['EMPTY.;1', 'META_DATA.;1', 'NETWORK_CONFIG.;1', 'USER_DATA.;1']);
    for (const f of FILES) {
      expect(joliet.get(f.name)).toEqual(Buffer.from(f.data));
      expect(primary.get(`${f.name.toUpperCase().replace('-', '_')}.;1`)).toEqual(Buffer.from(f.data));
    }
  });

  it('gives "." and ".." of the root the root extent and flags them as directories', () => {
    const image = build();
    for (const n of [16, 17]) {
      const vd = readVolumeDescriptor(image, n);
      const [self, parent] = readDirectory(image, vd.rootExtent, vd.rootSize);
      expect(self).toMatchObject({ id: Buffer.from([0]), extent: vd.rootExtent, size: vd.rootSize, flags: 2 });
      expect(parent).toMatchObject({ id: Buffer.from([1]), extent: vd.rootExtent, size: vd.rootSize, flags: 2 });
    }
  });

  it('starts every file on its own block and keeps multi-block data contiguous', () => {
    const big = patterned(3 * 1024 * 1024 + 7, 1);
    const small = patterned(5, 2);
    const image = build([
      { name: 'big.bin', data: big },
      { name: 'small', data: small },
    ]);
    const vd = readVolumeDescriptor(image, 17);
    const [, , bigEntry, smallEntry] = readDirectory(image, vd.rootExtent, vd.rootSize);
    expect(smallEntry.extent - bigEntry.extent).toBe(Math.ceil(big.length / ISO9660_BLOCK_SIZE));
    // Buffer.equals: jest's deep equality walks a 3 MiB buffer byte by byte and takes seconds.
    expect(readRootFiles(image, 'joliet').get('big.bin')?.equals(big)).toBe(true);
    expect(readRootFiles(image, 'joliet').get('small')?.equals(small)).toBe(true);
  });

  it('spreads large directories over several blocks without splitting a record', () => {
    const files = Array.from({ length: 40 }, (_, i) => ({
      name: `${String(i).padStart(2, '0')}-${'x'.repeat(61)}`,
      data: `file ${i}`,
    }));
    const image = build(files);
    const vd = readVolumeDescriptor(image, 17);
    expect(vd.rootSize).toBeGreaterThan(2 * ISO9660_BLOCK_SIZE); // 40 records of 162 bytes
    const joliet = readRootFiles(image, 'joliet');
    expect(joliet.size).toBe(40);
    for (const f of files) expect(joliet.get(f.name)?.toString()).toBe(f.data);
    expect(new Set(readRootFiles(image, 'primary').keys()).size).toBe(40);
  });

  it('keeps primary names unique when distinct names map to the same ISO name', () => {
    const image = build([
      { name: 'meta-data', data: 'a' },
      { name: 'meta_data', data: 'b' },
      { name: 'meta.data', data: 'c' },
    ]);
    const primary = readRootFiles(image, 'primary');
    expect([...primary.keys()].sort()).toEqual(['META.DATA;1', 'META_DATA.;1', 'META_DATA_1.;1']);
    expect([...readRootFiles(image, 'joliet').keys()]).toEqual(['meta-data', 'meta.data', 'meta_data']);
  });
});

describe('buildIso9660 determinism', () => {
  it('produces identical bytes for identical input and date', () => {
    expect(build().equals(build())).toBe(true);
  });

  it('changes only with the date when the date changes', () => {
    const other = build(FILES, new Date('2030-01-02T03:04:05Z'));
    expect(other.length).toBe(build().length);
    expect(other.equals(build())).toBe(false);
  });

  it('defaults the date to now', () => {
    const image = buildIso9660({ volumeId: 'cidata', files: FILES });
    const year = Number(block(image, 16).toString('ascii', 813, 817));
    expect(year).toBe(new Date().getUTCFullYear());
  });
});

describe('buildIso9660 input validation', () => {
  const withName = (name: string) => () => build([{ name, data: 'x' }]);

  it.each(['', 'User-Data', 'a/b', 'a b', 'é', '.', '..', 'trailing.', 'x'.repeat(65)])(
    'rejects file name %j',
    (name) => {
      expect(withName(name)).toThrow(/invalid ISO file name/);
    },
  );

  it('accepts 64-character names and names with dots, dashes and underscores', () => {
    expect(withName('a'.repeat(64))).not.toThrow();
    expect(withName('.hidden_file-1.tar.gz')).not.toThrow();
  });

  it('rejects duplicate names', () => {
    expect(() =>
      build([
        { name: 'user-data', data: 'a' },
        { name: 'user-data', data: 'b' },
      ]),
    ).toThrow(/duplicate ISO file name "user-data"/);
  });

  it.each(['', 'x'.repeat(33), 'ci data', 'ci.data', 'ci/data'])('rejects volume id %j', (volumeId) => {
    expect(() => buildIso9660({ volumeId, files: [] })).toThrow(/invalid ISO volume id/);
  });

  it('accepts 32-character mixed-case volume ids', () => {
    const image = buildIso9660({ volumeId: 'A-b_C'.padEnd(32, 'z'), files: [], date: DATE });
    expect(block(image, 16).toString('ascii', 40, 72)).toBe('A-b_C'.padEnd(32, 'z'));
    expect(decodeUcs2BE(block(image, 17).subarray(40, 72))).toBe('A-b_C'.padEnd(16, 'z'));
  });

  it('rejects invalid or unrepresentable dates', () => {
    expect(() => build(FILES, new Date('nope'))).toThrow(/ISO 9660 date/);
    expect(() => build(FILES, new Date('2200-01-01T00:00:00Z'))).toThrow(/ISO 9660 date/);
  });

  it('rejects files over the size limit', () => {
    expect(() => build([{ name: 'huge', data: Buffer.allocUnsafe(MAX_ISO_FILE_BYTES + 1) }])).toThrow(/limit/);
  });
});
