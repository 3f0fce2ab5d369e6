import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('the dashboard is served by the API process', () => {
  let t: TestApp;
  const get = (path: string) => fetch(`${t.baseUrl}${path}`);

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers / with the page and strict security headers', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/js/app.js"></script>');
    // No inline script: every <script> has a src.
    expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
  });

  it('serves the modules and styles with their types', async () => {
    const js = await get('/js/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    const css = await get('/styles.css');
    expect(css.headers.get('content-type')).toContain('text/css');
  });

  it('leaves the API, docs and platform routes as they were', async () => {
    expect((await get('/v1/clusters')).status).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/docs-json')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(401);
    const missing = await get('/no-such-file.js');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual(expect.objectContaining({ statusCode: 404, code: 'NOT_FOUND' }));
  });
});
