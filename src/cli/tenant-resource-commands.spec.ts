import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Command } from 'commander';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';

const FIP = '0b7e8a52-3f0c-4c5e-9d2a-7f3c1e0a9b11';
const CLUSTER = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

interface Sent {
  method: string;
  path: string;
  body: unknown;
  tenant: string | null;
}

/** kaasctl as cli.ts builds it, its usage errors thrown and kept. */
function kaasctl(errors: string[]): Command {
  return throwOnUsageErrors(kaasctlProgram({}), errors);
}

describe('kaasctl floating-ips associate|disassociate', () => {
  let sent: Sent[];
  let printed: string;
  let usageErrors: string[];

  beforeEach(() => {
    sent = [];
    printed = '';
    usageErrors = [];
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const headers = new Headers(init?.headers);
      sent.push({
        method: init?.method ?? 'GET',
        path: url.pathname,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
        tenant: headers.get('x-kaas-tenant'),
      });
      const json = (body: unknown) =>
        new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
      if (init?.method === 'GET' && url.pathname === '/v1/floating-ips')
        return json({ items: [{ id: FIP, address: '10.250.0.7', clusterId: null }] });
      if (init?.method === 'GET' && url.pathname === '/v1/clusters')
        return json({ items: [{ id: CLUSTER, name: 'web' }] });
      if (init?.method === 'PATCH') {
        const { clusterId } = JSON.parse(String(init.body)) as { clusterId: string | null };
        return json({ id: FIP, address: '10.250.0.7', clusterId, createdAt: '2025-01-01T00:00:00.000Z' });
      }
      return new Response(JSON.stringify({ message: 'unexpected' }), { status: 500 });
    });
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const run = (...args: string[]) =>
    kaasctl(usageErrors).parseAsync(['--url', 'http://kaas.test', '--token', 't', '-o', 'json', ...args], {
      from: 'user',
    });

  it('associates an address given by address with a cluster given by name', async () => {
    await run('floating-ips', 'associate', '10.250.0.7', '--cluster', 'web');
    expect(sent.filter((s) => s.method === 'PATCH')).toEqual([
      { method: 'PATCH', path: `/v1/floating-ips/${FIP}`, body: { clusterId: CLUSTER }, tenant: null },
    ]);
    expect(JSON.parse(printed)).toEqual(expect.objectContaining({ id: FIP, clusterId: CLUSTER }));
  });

  it('takes ids as they are, without looking them up', async () => {
    await run('floating-ips', 'associate', FIP, '--cluster', CLUSTER);
    expect(sent).toEqual([
      { method: 'PATCH', path: `/v1/floating-ips/${FIP}`, body: { clusterId: CLUSTER }, tenant: null },
    ]);
  });

  it('disassociates with clusterId null', async () => {
    await run('floating-ips', 'disassociate', '10.250.0.7');
    expect(sent.filter((s) => s.method === 'PATCH')).toEqual([
      { method: 'PATCH', path: `/v1/floating-ips/${FIP}`, body: { clusterId: null }, tenant: null },
    ]);
    expect(JSON.parse(printed)).toEqual(expect.objectContaining({ clusterId: null }));
  });

  it('acts for the tenant given with --tenant', async () => {
    const tenant = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    await run('--tenant', tenant, 'floating-ips', 'disassociate', FIP);
    expect(sent).toEqual([{ method: 'PATCH', path: `/v1/floating-ips/${FIP}`, body: { clusterId: null }, tenant }]);
  });

  it('names an unknown cluster and sends nothing', async () => {
    await expect(run('floating-ips', 'associate', '10.250.0.7', '--cluster', 'nope')).rejects.toThrow(
      'no cluster named "nope"',
    );
    expect(sent.filter((s) => s.method === 'PATCH')).toEqual([]);
  });

  it('refuses associate without --cluster', async () => {
    await expect(run('floating-ips', 'associate', '10.250.0.7')).rejects.toThrow(/--cluster/);
    expect(usageErrors.join('')).toMatch(/required option '--cluster <idOrName>' not specified/);
    expect(sent).toEqual([]);
  });
});
