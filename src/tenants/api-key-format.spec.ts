import { describe, expect, it } from '@jest/globals';
import { sha256 } from '../common/secrets.js';
import { generateApiKey, parseApiKey } from './api-key-format.js';

describe('API key format', () => {
  it('generates distinct keys whose secret hashes to the stored hash', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).not.toBe(b.key);
    const parsed = parseApiKey(a.key);
    expect(parsed?.prefix).toBe(a.prefix);
    expect(sha256(parsed!.secret).equals(a.secretHash)).toBe(true);
  });

  it.each(['', 'kaas_', 'Bearer x', 'kaas_zzzzzzzzzzzzzzzz_' + 'a'.repeat(43), 'kaas_0123456789abcdef_short'])(
    'rejects %j',
    (value) => {
      expect(parseApiKey(value)).toBeUndefined();
    },
  );
});
