import { randomBytes } from 'node:crypto';
import { randomToken, sha256 } from '../common/secrets.js';

/**
 * Keys look like `kaas_<prefix>_<secret>`: the prefix finds the row, the secret's SHA-256 is
 * compared in constant time. 256 bits of secret make a slow hash unnecessary.
 */
export interface GeneratedKey {
  key: string;
  prefix: string;
  secretHash: Buffer;
}

export function generateApiKey(): GeneratedKey {
  const prefix = randomBytes(8).toString('hex');
  const secret = randomToken(32);
  return { key: `kaas_${prefix}_${secret}`, prefix, secretHash: sha256(secret) };
}

export function parseApiKey(key: string): { prefix: string; secret: string } | undefined {
  const m = /^kaas_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(key);
  return m ? { prefix: m[1], secret: m[2] } : undefined;
}
