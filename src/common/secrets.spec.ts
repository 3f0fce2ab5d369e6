import { describe, expect, it } from '@jest/globals';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { decryptSecret, encryptSecret, sameHash, sealedKeyId, secretKeyId, sha256 } from './secrets.js';

describe('secrets', () => {
  const key = randomBytes(32);

  it('encrypts with AES-256-GCM and decrypts back', () => {
    const sealed = encryptSecret(key, 'ca private key', 'cluster-1');
    expect(sealed).not.toContain('ca private key');
    expect(decryptSecret(key, sealed, 'cluster-1')).toBe('ca private key');
  });

  it('uses a fresh IV each time', () => {
    expect(encryptSecret(key, 'x')).not.toBe(encryptSecret(key, 'x'));
  });

  it('refuses a tampered ciphertext, another key, or another owner', () => {
    const sealed = encryptSecret(key, 'token', 'cluster-1');
    const [version, id, body] = sealed.split('.');
    const raw = Buffer.from(body, 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => decryptSecret(key, `${version}.${id}.${raw.toString('base64')}`, 'cluster-1')).toThrow();
    expect(() => decryptSecret(randomBytes(32), sealed, 'cluster-1')).toThrow(/sealed under key [0-9a-f]{8}, not/);
    expect(() => decryptSecret(key, sealed, 'cluster-2')).toThrow();
  });

  it('names the key in the ciphertext: k1.<key id>.<base64>', () => {
    const sealed = encryptSecret(key, 'x', 'a');
    expect(sealed).toMatch(/^k1\.[0-9a-f]{8}\.[A-Za-z0-9+/]+=*$/);
    expect(sealedKeyId(sealed)).toBe(secretKeyId(key));
  });

  it('derives the key id from sha256("kaas-key-id:" + key), 8 hex characters', () => {
    const fixed = Buffer.alloc(32, 0xab);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('kaas-key-id:', 'utf8'), fixed]))
      .digest('hex')
      .slice(0, 8);
    expect(secretKeyId(fixed)).toBe(expected);
    expect(secretKeyId(fixed)).toMatch(/^[0-9a-f]{8}$/);
    expect(secretKeyId(Buffer.alloc(32, 0xac))).not.toBe(expected);
  });

  it('opens a ciphertext written before key ids (bare base64), which has no key id', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from('cluster-1'));
    const ct = Buffer.concat([cipher.update('old secret', 'utf8'), cipher.final()]);
    const legacy = Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
    expect(sealedKeyId(legacy)).toBeNull();
    expect(decryptSecret(key, legacy, 'cluster-1')).toBe('old secret');
    expect(() => decryptSecret(key, legacy, 'cluster-2')).toThrow();
  });

  it('compares hashes', () => {
    expect(sameHash(sha256('a'), sha256('a'))).toBe(true);
    expect(sameHash(sha256('a'), sha256('b'))).toBe(false);
    expect(sameHash(sha256('a'), Buffer.alloc(3))).toBe(false);
  });
});
