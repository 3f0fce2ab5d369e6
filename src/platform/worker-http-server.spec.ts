import { afterEach, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { createLogger } from '../common/logger.js';
import type { BearerCheck } from './operator-access.js';
import type { ReadinessCheck } from './readiness-probe.js';
import { WorkerHttpServer } from './worker-http-server.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  },
});

interface Options {
  readiness?: [string, ReadinessCheck][];
  authorize?: () => Promise<BearerCheck>;
  metrics?: () => Promise<string>;
}

let server: WorkerHttpServer | undefined;

async function start(options: Options = {}): Promise<string> {
  server = new WorkerHttpServer({
    logger: createLogger('info', 'worker', sink),
    metrics: options.metrics ?? (async () => '# HELP kaas_up x\n# TYPE kaas_up gauge\nkaas_up 1\n'),
    metricsContentType: 'text/plain; version=0.0.4; charset=utf-8',
    readiness: options.readiness ?? [['database', async () => undefined]],
    authorize: options.authorize ?? (async () => ({ headers: {} })),
  });
  return `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('WorkerHttpServer', () => {
  it('answers /healthz, and 404 in the API error shape for anything else', async () => {
    const base = await start();
    const health = await fetch(`${base}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'ok' } });
    const other = await fetch(`${base}/v1/clusters`, { headers: { 'x-request-id': 'probe-1' } });
    expect(other.status).toBe(404);
    expect(other.headers.get('x-request-id')).toBe('probe-1');
    expect(await other.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: 'no route for GET /v1/clusters',
      requestId: 'probe-1',
    });
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it('says which part is not ready, with counts only: no names, no error text', async () => {
    const base = await start({
      readiness: [
        ['database', async () => undefined],
        ['leases', async () => ({ held: 2, lapsed: 0, name: 'kvm-01' })],
        [
          'redis',
          async () => {
            throw Object.assign(new Error('ECONNREFUSED redis.internal:6379'), { counts: { held: 1, who: 'kvm-02' } });
          },
        ],
      ],
    });
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not ready',
      checks: { database: { ok: true }, leases: { ok: true, held: 2, lapsed: 0 }, redis: { ok: false, held: 1 } },
    });
  });

  it('is ready when every check answers', async () => {
    const base = await start();
    const res = await fetch(`${base}/readyz`);
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 200,
      body: { status: 'ready', checks: { database: { ok: true } } },
    });
  });

  it('serves /metrics only to whom the check lets through, with its headers either way', async () => {
    let answer: BearerCheck = {
      headers: { 'RateLimit-Limit': '100' },
      refusal: new DomainError(ErrorCode.Unauthenticated, 'missing bearer token in the Authorization header'),
    };
    const seen: (string | undefined)[] = [];
    const base = await start({
      authorize: async () => answer,
      metrics: async () => {
        seen.push('scraped');
        return 'kaas_up 1\n';
      },
    });
    const refused = await fetch(`${base}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('ratelimit-limit')).toBe('100');
    expect(await refused.json()).toEqual(
      expect.objectContaining({ statusCode: 401, code: 'UNAUTHENTICATED', requestId: expect.any(String) }),
    );
    expect(seen).toEqual([]);
    answer = { headers: {} };
    const served = await fetch(`${base}/metrics?x=1`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await served.text()).toBe('kaas_up 1\n');
  });

  it('answers 500 with a request id, and logs the error once, when the metrics cannot be read', async () => {
    lines.length = 0;
    const base = await start({
      metrics: async () => {
        throw new Error('collect failed');
      },
    });
    const res = await fetch(`${base}/metrics`, { headers: { 'x-request-id': 'scrape-9' } });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(expect.objectContaining({ code: 'INTERNAL', requestId: 'scrape-9' }));
    expect(lines.filter((l) => l.includes('collect failed'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('collect failed'))).toContain('"requestId":"scrape-9"');
  });

  it('closes at once with an idle keep-alive connection open, and then refuses connections', async () => {
    const base = await start();
    const agentRequest = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${base}/healthz`, { headers: { connection: 'keep-alive' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await agentRequest()).toBe(200);
    const started = Date.now();
    await server!.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('reports a port already taken', async () => {
    const base = await start();
    const port = Number(new URL(base).port);
    const second = new WorkerHttpServer({
      logger: createLogger('silent', 'worker', sink),
      metrics: async () => '',
      metricsContentType: 'text/plain',
      readiness: [],
      authorize: async () => ({ headers: {} }),
    });
    await expect(second.listen(port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
    await second.close();
  });
});
