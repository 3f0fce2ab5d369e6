import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundleManifest, verifyBundleVersion } from './bundles.service.js';

describe('verifyBundleVersion', () => {
  let dir: string;
  // Larger than the buffer the files are read through, and not a multiple of it.
  const big = randomBytes(2.5 * 1024 * 1024 + 17);
  const small = Buffer.from('#!/bin/sh\necho hello\n');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const manifest: BundleManifest = {
    name: 'demo',
    description: 'a test bundle',
    defaultVersion: 'v1',
    versions: { v1: { artifacts: ['artifacts/big', 'artifacts/v1/small'] } },
    checksums: 'artifacts/SHA256SUMS',
    scripts: { common: 'scripts/common.sh', master: 'scripts/master.sh', worker: 'scripts/worker.sh' },
    endpoint: { port: 2379, scheme: 'https' },
    readiness: { port: 8099, path: '/status' },
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kaas-bundle-'));
    await mkdir(join(dir, 'artifacts', 'v1'), { recursive: true });
    await mkdir(join(dir, 'scripts'));
    for (const s of ['common', 'master', 'worker']) await writeFile(join(dir, 'scripts', `${s}.sh`), 'true\n');
    await writeFile(join(dir, 'artifacts', 'big'), big);
    await writeFile(join(dir, 'artifacts', 'v1', 'small'), small);
    await writeFile(join(dir, 'artifacts', 'SHA256SUMS'), `${sha(big)}  big\n${sha(small)}  v1/small\n`);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('finds every artifact present and matching its checksum', async () => {
    await expect(verifyBundleVersion(dir, manifest, 'v1')).resolves.toEqual({
      version: 'v1',
      available: true,
      problems: [],
    });
  });

  it('names an artifact whose content differs from its checksum, even past the first read', async () => {
    const changed = Buffer.from(big);
    changed[changed.length - 1] ^= 0xff;
    await writeFile(join(dir, 'artifacts', 'big'), changed);
    try {
      const state = await verifyBundleVersion(dir, manifest, 'v1');
      expect(state.available).toBe(false);
      expect(state.problems).toEqual(['checksum mismatch for demo/artifacts/big']);
    } finally {
      await writeFile(join(dir, 'artifacts', 'big'), big);
    }
  });

  it('names a missing artifact', async () => {
    await rm(join(dir, 'artifacts', 'v1', 'small'));
    const state = await verifyBundleVersion(dir, manifest, 'v1');
    expect(state.problems).toEqual(['missing file demo/artifacts/v1/small']);
  });
});
