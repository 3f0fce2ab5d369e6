import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_FILE_RECHECK_MS, SecretBox } from './secret-box.js';
import { SecretKeyFile } from './secret-key-file.js';
import { SecretKeyRing } from './secret-key-ring.js';
import { secretKeyId } from './secrets.js';

/** What encryptSecret wrote before key ids existed: bare base64 of iv | tag | ciphertext. */
function legacySeal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

describe('SecretBox with keys from the environment', () => {
  const current = randomBytes(32);
  const retired = randomBytes(32);
  const box = new SecretBox(new SecretKeyRing(current, [retired]));

  it('seals under the current key and says so in the ciphertext', () => {
    const sealed = box.seal('ca key', 'cluster-1');
    expect(box.keyIdOf(sealed)).toBe(secretKeyId(current));
    expect(box.currentKeyId).toBe(secretKeyId(current));
    expect(box.keyIds).toEqual([secretKeyId(current), secretKeyId(retired)]);
    expect(box.open(sealed, 'cluster-1')).toBe('ca key');
    expect(box.source).toBe('environment');
  });

  it('opens what a retired key sealed', () => {
    const old = new SecretBox(new SecretKeyRing(retired)).seal('old', 'a');
    expect(box.keyIdOf(old)).toBe(secretKeyId(retired));
    expect(box.open(old, 'a')).toBe('old');
  });

  it('opens ciphertexts from before key ids under the current key, then the retired ones', () => {
    expect(box.keyIdOf(legacySeal(current, 'x', 'a'))).toBeNull();
    expect(box.open(legacySeal(current, 'under current', 'a'), 'a')).toBe('under current');
    expect(box.open(legacySeal(retired, 'under retired', 'a'), 'a')).toBe('under retired');
    expect(() => box.open(legacySeal(randomBytes(32), 'lost', 'a'), 'a')).toThrow(
      /sealed before key ids\) opens under none of this process's keys/,
    );
  });

  it('refuses a secret opened for another owner (associated data)', () => {
    const sealed = box.seal('token', 'cluster-1');
    expect(() => box.open(sealed, 'cluster-2')).toThrow(
      `the secret sealed under key ${secretKeyId(current)} does not verify`,
    );
    expect(() => box.open(legacySeal(current, 'token', 'cluster-1'), 'cluster-2')).toThrow(/opens under none/);
  });

  it('names an unknown key id, and the keys it has, without any key material', () => {
    const stranger = randomBytes(32);
    const sealed = new SecretBox(new SecretKeyRing(stranger)).seal('x', 'a');
    let message = '';
    try {
      box.open(sealed, 'a');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      `the secret is sealed under key ${secretKeyId(stranger)}, which is not among this process's keys ` +
        `(${secretKeyId(current)}, ${secretKeyId(retired)}); put it back among the retired keys ` +
        '(key file or KAAS_SECRET_KEYS_RETIRED)',
    );
    for (const key of [current, retired, stranger]) {
      expect(message).not.toContain(key.toString('hex'));
      expect(message).not.toContain(key.toString('base64'));
    }
  });

  it('has no key file to rotate', () => {
    expect(() => box.rotateKeyFile()).toThrow(/come from the environment/);
  });
});

describe('SecretBox with keys from the key file', () => {
  let dir: string;
  let path: string;
  let now: number;
  const clock = () => now;
  const logger = { info: jest.fn(), warn: jest.fn() };
  const first = randomBytes(32);

  const boxOnFile = () =>
    new SecretBox(new SecretKeyRing(first), { file: new SecretKeyFile(path), logger, now: clock });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kaas-keys-'));
    path = join(dir, 'secret.key');
    // What `make run` writes on first start: one key, hex, no newline.
    writeFileSync(path, first.toString('hex'), { mode: 0o600 });
    now = 1_000_000;
    logger.info.mockClear();
    logger.warn.mockClear();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the one-key file written on first start', () => {
    const box = boxOnFile();
    expect(box.source).toBe('file');
    expect(box.currentKeyId).toBe(secretKeyId(first));
    expect(box.open(box.seal('x', 'a'), 'a')).toBe('x');
  });

  it('rotates: a new key at the head of the file (owner-only, written whole), the old keys after it', () => {
    const box = boxOnFile();
    const sealedBefore = box.seal('before', 'a');
    const newId = box.rotateKeyFile();
    expect(newId).not.toBe(secretKeyId(first));
    expect(box.currentKeyId).toBe(newId);
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(secretKeyId(Buffer.from(lines[0], 'hex'))).toBe(newId);
    expect(lines[1]).toBe(first.toString('hex'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(box.keyIdOf(box.seal('after', 'a'))).toBe(newId);
    expect(box.open(sealedBefore, 'a')).toBe('before');

    const third = box.rotateKeyFile();
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(3);
    expect(box.keyIds).toEqual([third, newId, secretKeyId(first)]);
    expect(logger.info).toHaveBeenCalledWith({ currentKeyId: third }, 'a new secret key was written to the key file');
  });

  it("takes up another process's rotation: within a second for sealing, at once for opening", () => {
    const api = boxOnFile();
    const worker = boxOnFile();
    expect(worker.currentKeyId).toBe(secretKeyId(first));
    const newId = api.rotateKeyFile();

    // The worker looked at the file less than a second ago: it still seals under the old key...
    now += KEY_FILE_RECHECK_MS - 1;
    expect(worker.keyIdOf(worker.seal('x', 'a'))).toBe(secretKeyId(first));
    // ...but a secret under a key it does not know makes it look again.
    expect(worker.open(api.seal('from the api', 'a'), 'a')).toBe('from the api');
    expect(worker.currentKeyId).toBe(newId);

    const other = boxOnFile();
    expect(other.currentKeyId).toBe(newId);
    api.rotateKeyFile();
    now += KEY_FILE_RECHECK_MS;
    expect(other.keyIdOf(other.seal('y', 'a'))).toBe(api.currentKeyId);
    expect(logger.info).toHaveBeenCalledWith(
      expect.objectContaining({ currentKeyId: api.currentKeyId }),
      'secret keys reloaded from the key file',
    );
  });

  it('keeps the keys it has when the file changes into something it cannot parse, and says so once', () => {
    const box = boxOnFile();
    expect(box.currentKeyId).toBe(secretKeyId(first));
    writeFileSync(path, 'not a key\n');
    now += KEY_FILE_RECHECK_MS;
    expect(box.currentKeyId).toBe(secretKeyId(first));
    now += KEY_FILE_RECHECK_MS;
    expect(box.open(box.seal('still works', 'a'), 'a')).toBe('still works');
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      { path, err: 'KAAS_SECRET_KEY_FILE: line 1 must be 32 bytes, as 64 hex characters or base64' },
      'the secret key file does not parse; the keys already loaded stay in use',
    );
  });

  it('reads a file changed since the configuration was loaded on first use', () => {
    const replaced = randomBytes(32);
    writeFileSync(path, `${replaced.toString('hex')}\n${first.toString('hex')}\n`);
    expect(boxOnFile().currentKeyId).toBe(secretKeyId(replaced));
  });
});
