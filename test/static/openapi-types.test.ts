import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * src/api/openapi.ts is generated from docs/openapi.json by openapi-typescript (`npm run openapi`):
 * committed, so that the typed client needs no build step, and checked here so that it cannot drift.
 */
describe('the generated API types (src/api/openapi.ts)', () => {
  it('are what openapi-typescript makes of docs/openapi.json', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'scripts', 'openapi.mjs'), '--check-types'], {
      encoding: 'utf8',
    });
    expect({ status: r.status, out: (r.stdout + r.stderr).trim() }).toEqual({ status: 0, out: '' });
  }, 60000);
});
