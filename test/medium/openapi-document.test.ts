import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { createOpenApiDocument } from '../../src/http-app.js';
import { Client, startTestApp, type TestApp } from '../support/test-app.js';

const COMMITTED = join(process.cwd(), 'docs', 'openapi.json');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Where two JSON values first differ, as a JSON pointer; undefined when they are the same, keys in the same order. */
function firstDifference(a: Json | undefined, b: Json | undefined, at = ''): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const left = a as Record<string, Json>;
    const right = b as Record<string, Json>;
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
      const found = firstDifference(left[key], right[key], `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      if (found) return found;
    }
    return `${at || '/'} (the order of its keys)`;
  }
  return at || '/';
}

function expectSame(actual: Json, committed: Json, what: string): void {
  const at = firstDifference(actual, committed);
  if (at !== undefined) {
    throw new Error(`${what} differs from docs/openapi.json at ${at}: run \`npm run openapi\` and commit the result`);
  }
}

describe('the committed OpenAPI document (docs/openapi.json)', () => {
  let t: TestApp;
  let served: Json;
  const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as Json;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await new Client(t.baseUrl).call<Json>('GET', '/docs-json');
    expect(res.status).toBe(200);
    served = res.body;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is what the running platform serves at /docs-json', () => {
    expectSame(served, committed, "the running platform's /docs-json");
  });

  it('is what `npm run openapi` makes without a database (the same module graph in preview mode)', async () => {
    const document = await createOpenApiDocument(t.config, createLogger('silent', 'openapi'));
    expectSame(JSON.parse(JSON.stringify(document)) as Json, served, 'the document made in preview mode');
  });

  it('names every operation for a generated client and says what it does', () => {
    const paths = (committed as { paths: Record<string, Record<string, { operationId?: string; summary?: string }>> })
      .paths;
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => ({ route: `${m.toUpperCase()} ${path}`, ...item[m] })),
    );
    expect(operations.length).toBeGreaterThan(60);
    const unnamed = operations.filter((o) => !/^[a-z][A-Za-z]+$/.test(o.operationId ?? '') || !o.summary);
    expect(unnamed.map((o) => o.route)).toEqual([]);
  });
});
