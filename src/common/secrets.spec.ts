import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { decryptSecret, encryptSecret, sameHash, sha256 } from './secrets.js';

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
    const raw = Buffer.from(sealed, 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => decryptSecret(key, raw.toString('base64'), 'cluster-1')).toThrow();
    expect(() => decryptSecret(randomBytes(32), sealed, 'cluster-1')).toThrow();
    expect(() => decryptSecret(key, sealed, 'cluster-2')).toThrow();
  });

  it('compares hashes', () => {
    expect(sameHash(sha256('a'), sha256('a'))).toBe(true);
    expect(sameHash(sha256('a'), sha256('b'))).toBe(false);
    expect(sameHash(sha256('a'), Buffer.alloc(3))).toBe(false);
  });
});
