import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clusterBody, type Platform, startPlatform, tenantWithInfra } from '../support/platform.js';

/** Server-Sent Events of a tenant's clusters: live, per cluster or all, resumable, private. */
describe('GET /v1/events/stream', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  type Sse = { id: string; data: { reason: string; clusterId: string } };
  /** Reads the stream until `enough` says so (or the deadline), then closes it. */
  async function read(
    token: string,
    query: string,
    enough: (events: Sse[]) => boolean,
    headers: Record<string, string> = {},
    ms = 20000,
  ): Promise<{ status: number; type: string | null; events: Sse[] }> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ms);
    const res = await fetch(`${p.baseUrl}/v1/events/stream${query}`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
      signal: ac.signal,
    });
    const events: Sse[] = [];
    if (res.status === 200 && res.body) {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (.+)$/m.exec(block)?.[1];
            const data = /^data: (.+)$/m.exec(block)?.[1];
            if (id && data) events.push({ id, data: JSON.parse(data) });
          }
          if (enough(events)) break;
        }
      } catch {
        // aborted at the deadline
      }
    }
    clearTimeout(timer);
    ac.abort();
    return { status: res.status, type: res.headers.get('content-type'), events };
  }

  it("streams a cluster's events as they happen, resumes after Last-Event-ID, and shows no other tenant's", async () => {
    const s = await tenantWithInfra(p, 'stream');
    const other = await tenantWithInfra(p, 'stream-other');
    const token = s.client.token!;
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    const id = created.body.id as string;
    const running = (e: Sse[]) => e.some((x) => x.data.reason === 'PhaseRunning');
    // Opened right after the create: everything from then on, up to Running.
    const live = await read(token, `?clusterId=${id}`, running);
    expect(live.status).toBe(200);
    expect(live.type).toMatch(/^text\/event-stream/);
    expect(live.events.map((e) => e.data.reason)).toContain('PhaseRunning');
    expect(new Set(live.events.map((e) => e.data.clusterId))).toEqual(new Set([id]));
    const ids = live.events.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);

    // Resumed from the first event: the rest again, nothing before it.
    const first = live.events[0].id;
    const resumed = await read(token, `?clusterId=${id}`, (e) => e.length >= live.events.length - 1, {
      'last-event-id': first,
    });
    expect(resumed.events[0].id).toBe(live.events[1].id);

    // Another tenant's stream of all its clusters sees none of these; its own cluster is 404 to them.
    const otherToken = other.client.token!;
    const quiet = await read(otherToken, '', () => false, {}, 2500);
    expect(quiet.status).toBe(200);
    expect(quiet.events).toEqual([]);
    expect((await read(otherToken, `?clusterId=${id}`, () => true)).status).toBe(404);
    expect((await read(token, '?clusterId=nope', () => true)).status).toBe(400);
    expect((await read(token, '', () => true, { 'last-event-id': 'x' })).status).toBe(400);
  }, 60000);
});
