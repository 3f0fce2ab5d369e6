import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares two hashes without leaking where they differ. */
export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Ciphertexts written before key ids existed are bare base64; these name the key that sealed them. */
const SEALED_WITH_ID = /^k1\.([0-9a-f]{8})\.([A-Za-z0-9+/=]*)$/;

/**
 * A key's public name: the first 8 hex characters of sha256("kaas-key-id:" + key bytes). It says
 * which key sealed a secret without saying anything about the key.
 */
export function secretKeyId(key: Buffer): string {
  return sha256(Buffer.concat([Buffer.from('kaas-key-id:'), key]))
    .toString('hex')
    .slice(0, 8);
}

/** The id of the key that sealed `sealed`, or null for a ciphertext from before key ids. */
export function sealedKeyId(sealed: string): string | null {
  return SEALED_WITH_ID.exec(sealed)?.[1] ?? null;
}

/**
 * AES-256-GCM, for secrets stored at rest: `k1.<key id>.<base64 of iv(12) | tag(16) | ciphertext>`.
 * The associated data binds the secret to its owner (a cluster id, say): it opens nowhere else.
 */
export function encryptSecret(key: Buffer, plaintext: string, associatedData = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `k1.${secretKeyId(key)}.${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
}

/**
 * Opens what encryptSecret sealed, and bare base64 from before key ids. Throws when the key id
 * names another key, or when the tag does not verify (another key, other associated data, or an
 * altered ciphertext).
 */
export function decryptSecret(key: Buffer, sealed: string, associatedData = ''): string {
  const versioned = SEALED_WITH_ID.exec(sealed);
  if (versioned && versioned[1] !== secretKeyId(key)) {
    throw new Error(`sealed under key ${versioned[1]}, not under key ${secretKeyId(key)}`);
  }
  const raw = Buffer.from(versioned ? versioned[2] : sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(associatedData));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
