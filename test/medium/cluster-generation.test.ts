import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseIfMatch } from '../../src/common/if-match.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

/**
 * Optimistic concurrency on clusters: `generation` rises with every change of the declared
 * state and is the ETag of GET; a change that carries `If-Match` with another generation is 412
 * and changes nothing; `observedGeneration` follows once the reconciler has acted on it. The
 * generation is no tag of the body, so it never makes an `If-None-Match` a 304; a list's weak tag,
 * a hash of its body, does.
 */
describe('cluster generations, ETag and If-Match', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('reads If-Match as RFC 9110 writes it', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('*')).toBe('*');
    expect(parseIfMatch('"3"')).toEqual(['3']);
    expect(parseIfMatch('W/"3", "4"')).toEqual(['3', '4']);
  });

  it('answers If-None-Match with 304 only for a tag made from the body', async () => {
    const s = await tenantWithInfra(p, 'conditional');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    const first = await s.client.call('GET', `/v1/clusters/${id}`);
    expect(first.headers.get('etag')).toBe('"1"');
    // The status moves on under the same generation: the generation is no tag of the body.
    const running = await waitForPhase(s.client, id, 'Running');
    expect(running.generation).toBe(1);
    // (Without fetch()'s `Cache-Control: no-cache`, as curl asks: Express alone would answer 304.)
    const again = await s.client.call('GET', `/v1/clusters/${id}`, undefined, {
      'if-none-match': '"1"',
      'cache-control': 'max-age=0',
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id, phase: 'Running', generation: 1 });

    // A list's tag is a hash of its body: the same tag, the same bytes, so 304 without them (the
    // VPCs here: a cluster list changes with every usage sample its nodes report).
    const vpcs = await s.client.call('GET', '/v1/vpcs');
    const vpcsTag = vpcs.headers.get('etag')!;
    expect(vpcsTag).toMatch(/^W\/"/);
    const unchanged = await s.client.call('GET', '/v1/vpcs', undefined, { 'if-none-match': vpcsTag });
    expect(unchanged.status).toBe(304);
    expect(unchanged.body).toBeUndefined();
    expect(unchanged.headers.get('ratelimit-limit')).not.toBeNull();
    const list = await s.client.call('GET', '/v1/clusters');
    const tag = list.headers.get('etag')!;
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 2 })).status).toBe(202);
    const changed = await s.client.call('GET', '/v1/clusters', undefined, { 'if-none-match': tag });
    expect(changed.status).toBe(200);
    expect(changed.body.items[0]).toMatchObject({ id, workers: 2, generation: 2 });
    expect(changed.headers.get('etag')).not.toBe(tag);
  }, 60000);

  it('answers 412 to a change made from a stale read, and takes one made from the current one', async () => {
    const s = await tenantWithInfra(p, 'generations');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    expect(created.body.generation).toBe(1);
    const running = await waitForPhase(s.client, id, 'Running');
    expect(running.observedGeneration).toBe(1);

    const read = await s.client.call('GET', `/v1/clusters/${id}`);
    expect(read.headers.get('etag')).toBe('"1"');

    // Someone else scales first: the generation moves on.
    expect((await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 2 }, { 'if-match': '"1"' })).status).toBe(
      202,
    );
    const stale = await s.client.call('PATCH', `/v1/clusters/${id}`, { workers: 3 }, { 'if-match': '"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('PRECONDITION_FAILED');
    expect(stale.body.message).toMatch(/generation 2/);
    for (const [method, path, body] of [
      ['POST', `/v1/clusters/${id}/pools`, { name: 'more', count: 1 }],
      ['PATCH', `/v1/clusters/${id}/pools/default`, { count: 5 }],
      ['DELETE', `/v1/clusters/${id}/pools/default`, undefined],
      ['DELETE', `/v1/clusters/${id}`, undefined],
    ] as const)
      expect({
        method,
        path,
        status: (await s.client.call(method, path, body, { 'if-match': 'W/"1"' })).status,
      }).toEqual({
        method,
        path,
        status: 412,
      });
    const after = await s.client.call('GET', `/v1/clusters/${id}`);
    expect(after.body).toMatchObject({ generation: 2, workers: 2, phase: expect.any(String) });
    expect(after.body.workerPools.map((w: { name: string }) => w.name)).toEqual(['default']);
    expect(after.headers.get('etag')).toBe('"2"');

    // From the current read, and with *, changes go through.
    expect(
      (await s.client.call('PATCH', `/v1/clusters/${id}/pools/default`, { count: 1 }, { 'if-match': '"2"' })).status,
    ).toBe(202);
    const settled = await waitForPhase(s.client, id, 'Running', 30000, (c) => c.observedGeneration === 3);
    expect(settled.generation).toBe(3);
    expect((await s.client.call('DELETE', `/v1/clusters/${id}`, undefined, { 'if-match': '*' })).status).toBe(202);
  }, 60000);
});
