/**
 * Cross-checks seed images with independent readers: genisoimage's isoinfo,
 * libisofs (xorriso) and libblkid (blkid).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildNoCloudSeed, DEFAULT_NETWORK_CONFIG, renderMetaData } from './nocloud-seed.js';

const execFileAsync = promisify(execFile);

/** Runs a tool without a shell; a non-zero exit rejects with its stderr in the message. */
async function run(cmd: string, args: string[]): Promise<Buffer> {
  const { stdout } = await execFileAsync(cmd, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

const text = async (cmd: string, args: string[]): Promise<string> => (await run(cmd, args)).toString('utf8');

/**
 * Whether this kernel has an iso9660 driver, built in or as a module that
 * mount(8) loads on demand. Some VM/container kernels ship without isofs.
 */

/** Deterministic pseudo-random bytes so a misplaced block cannot compare equal by accident. */
function patterned(length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = 42;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const DATE = new Date('2024-05-06T07:08:09Z');
const USER_DATA = '#cloud-config\nhostname: worker-1\nruncmd:\n  - [sh, -c, "echo ok > /run/seed-ok"]\n';
const BIG = patterned(3 * 1024 * 1024 + 7);
const EXPECTED = new Map<string, Buffer>([
  ['meta-data', Buffer.from(renderMetaData('vm-0001', 'worker-1'))],
  ['user-data', Buffer.from(USER_DATA)],
  ['network-config', Buffer.from(DEFAULT_NETWORK_CONFIG)],
  ['big.bin', BIG],
  ['empty', Buffer.alloc(0)],
  ['vendor-data', Buffer.from('#cloud-config\n{}\n')],
]);
const NAMES = [...EXPECTED.keys()].sort();

/** Compares a file read back by a tool with what was written, by name for a readable failure. */
function expectSameFile(name: string, actual: Buffer): void {
  const expected = EXPECTED.get(name) ?? Buffer.alloc(0);
  // Buffer.equals: jest's deep equality on a 3 MiB buffer takes seconds.
  expect({ name, length: actual.length, equal: actual.equals(expected) }).toEqual({
    name,
    length: expected.length,
    equal: true,
  });
}

/** Names from an `isoinfo -l` listing, without "." and "..". */
function isoinfoNames(listing: string): string[] {
  const names = [...listing.matchAll(/\[\s*\d+\s+\d+\]\s+(\S+)\s*$/gm)].map((m) => m[1]);
  return names.filter((n) => n !== '.' && n !== '..').sort();
}

describe('seed image read by system tools', () => {
  let dir: string;
  let iso: string;
  let blocks: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nocloud-seed-'));
    iso = join(dir, 'seed.iso');
    const image = buildNoCloudSeed({
      instanceId: 'vm-0001',
      hostname: 'worker-1',
      userData: USER_DATA,
      date: DATE,
      extraFiles: [
        { name: 'big.bin', data: BIG },
        { name: 'vendor-data', data: EXPECTED.get('vendor-data') ?? '' },
        // Last on purpose: its zero-length extent then sits at the end of the volume.
        { name: 'empty', data: '' },
      ],
    });
    blocks = image.length / 2048;
    await writeFile(iso, image);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('isoinfo -d sees an ISO 9660 volume "cidata" with Joliet level 3 and no Rock Ridge', async () => {
    const out = await text('isoinfo', ['-d', '-i', iso]);
    expect(out).toContain('CD-ROM is in ISO 9660 format');
    expect(out).toMatch(/^Volume id: cidata$/m);
    expect(out).toMatch(/^Logical block size is: 2048$/m);
    expect(out).toMatch(new RegExp(`^Volume size is: ${blocks}$`, 'm'));
    expect(out).toContain('Joliet with UCS level 3 found');
    expect(out).toContain('NO Rock Ridge present');
  });

  it('isoinfo lists exact names in the Joliet tree and ISO names in the primary tree', async () => {
    expect(isoinfoNames(await text('isoinfo', ['-J', '-l', '-i', iso]))).toEqual(NAMES);
    expect(isoinfoNames(await text('isoinfo', ['-l', '-i', iso]))).toEqual([
      'BIG.BIN;1',
      'EMPTY.;1',
      'META_DATA.;1',
      'NETWORK_CONFIG.;1',
      'USER_DATA.;1',
      'VENDOR_DATA.;1',
    ]);
  });

  it('isoinfo -J -x extracts every file byte for byte', async () => {
    for (const name of NAMES) expectSameFile(name, await run('isoinfo', ['-J', '-x', `/${name}`, '-i', iso]));
  });

  it('xorriso loads the image without warnings and extracts every file byte for byte', async () => {
    // -return_with WARNING 32: any libisofs complaint about the image fails the command.
    const xorriso = (...args: string[]): Promise<string> => text('xorriso', ['-return_with', 'WARNING', '32', ...args]);
    const listing = await xorriso('-indev', iso, '-ls', '--');
    expect([...listing.matchAll(/^'(.+)'$/gm)].map((m) => m[1]).sort()).toEqual(NAMES);

    const out = join(dir, 'xorriso-out');
    await xorriso('-osirrox', 'on', '-indev', iso, '-extract', '/', out);
    expect((await readdir(out)).sort()).toEqual(NAMES);
    for (const name of NAMES) expectSameFile(name, await readFile(join(out, name)));
  });

  it('blkid reports an iso9660 filesystem labelled cidata', async () => {
    // -c /dev/null: probe the file itself, never a stale blkid cache.
    const probe = (tag: string): Promise<string> => text('blkid', ['-c', '/dev/null', '-o', 'value', '-s', tag, iso]);
    expect((await probe('LABEL')).trim()).toBe('cidata');
    expect((await probe('TYPE')).trim()).toBe('iso9660');
  });

  it('busybox findfs (what the guest image uses) finds it by label on a block device', async () => {
    const loop = (await text('losetup', ['--find', '--show', '--read-only', iso])).trim();
    try {
      expect((await text('busybox', ['findfs', 'LABEL=cidata'])).trim()).toBe(loop);
    } finally {
      await text('losetup', ['-d', loop]);
    }
  });

  // A Linux kernel mounting the image is proven by the real-VM suite: the guest's kernel reads
  // its NoCloud seed from this writer's output (this machine's own kernel has no iso9660 driver).
});
