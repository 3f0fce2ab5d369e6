import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clusterBody, type Platform, startPlatform, tenantWithInfra } from '../support/platform.js';

/** `?name=` on every list of named resources: the page holding that one resource, or none. */
describe('lists by name', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('answers the one resource of that name, an empty page for another, and 400 for a name that is no DNS label', async () => {
    const s = await tenantWithInfra(p, 'by-name');
    await s.client.call('POST', '/v1/vpcs', { name: 'second', cidr: '10.77.0.0/24' });
    await s.client.call('POST', '/v1/storage-pools', { name: 'second', capacityGiB: 10 });
    expect((await s.client.call('POST', '/v1/clusters', clusterBody(s, { name: 'alpha', workers: 0 }))).status).toBe(
      202,
    );
    const names = async (client: Platform['admin'], path: string) =>
      ((await client.call('GET', path)).body.items as { name: string }[]).map((x) => x.name);
    for (const [path, name] of [
      ['/v1/vpcs', 'second'],
      ['/v1/storage-pools', 'second'],
      ['/v1/clusters', 'alpha'],
    ] as const) {
      expect(await names(s.client, `${path}?name=${name}`)).toEqual([name]);
      expect(await names(s.client, `${path}?name=nothing-here`)).toEqual([]);
      const bad = await s.client.call('GET', `${path}?name=Not_A_Label`);
      expect({ path, status: bad.status }).toEqual({ path, status: 400 });
      expect(JSON.stringify(bad.body)).toMatch(/name/);
    }
    expect(await names(p.admin, '/v1/tenants?name=by-name')).toEqual(['by-name']);
    expect(await names(p.admin, '/v1/tenants?name=nobody')).toEqual([]);
    const hosts = await names(p.admin, '/v1/hosts');
    expect(await names(p.admin, `/v1/hosts?name=${hosts[0]}`)).toEqual([hosts[0]]);
    expect(await names(p.admin, '/v1/hosts?name=no-such-host')).toEqual([]);
  });
});
