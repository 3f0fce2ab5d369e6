import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import {
  clusterBody,
  type Platform,
  startPlatform,
  type TenantSetup,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';
import { QueryCounter } from '../support/query-counter.js';

/**
 * `GET /v1/clusters` serves answers it made before for clusters whose stamp (row version,
 * endpoint address, nodes' summaries) has not changed: the list must still equal, item for item,
 * what `GET /v1/clusters/:id` (which always reads the row) answers after every kind of change,
 * including writes that bypass the platform's own code.
 */
describe('cluster lists from answers made before', () => {
  let p: Platform;
  let s: TenantSetup;
  let db: DataSource;
  const ids: string[] = [];

  beforeAll(async () => {
    p = await startPlatform();
    s = await tenantWithInfra(p, 'answers');
    db = p.app.get(DataSource);
    for (const name of ['a-one', 'b-two', 'c-three']) {
      let fip = s.floatingIpId;
      if (name !== 'a-one') {
        const made = await s.client.call('POST', '/v1/floating-ips', {});
        if (made.status !== 201) throw new Error(`floating IP: ${JSON.stringify(made.body)}`);
        fip = made.body.id as string;
      }
      const res = await s.client.call('POST', '/v1/clusters', clusterBody(s, { name, workers: 1, floatingIpId: fip }));
      if (res.status !== 202) throw new Error(JSON.stringify(res.body));
      ids.push(res.body.id as string);
    }
    for (const id of ids) await waitForPhase(s.client, id, 'Running');
    // Nothing changes the clusters from here on but the test.
    await p.stopWorker();
  }, 90000);
  afterAll(async () => {
    await p?.close();
  });

  /** The list's items, and what GET answers for each cluster, in the list's order. */
  async function listAndGets(): Promise<{ listed: unknown[]; got: unknown[] }> {
    const list = await s.client.call('GET', '/v1/clusters');
    expect(list.status).toBe(200);
    const listed = list.body.items as { id: string }[];
    const got = [];
    for (const item of listed) got.push((await s.client.call('GET', `/v1/clusters/${item.id}`)).body);
    return { listed, got };
  }

  async function expectCurrent(): Promise<unknown[]> {
    const { listed, got } = await listAndGets();
    expect(listed).toEqual(got);
    return listed;
  }

  it('reads a page of unchanged clusters with one narrow query, and the same answer comes back', async () => {
    const first = await s.client.call('GET', '/v1/clusters');
    const counter = new QueryCounter(db);
    counter.start();
    const second = await s.client.call('GET', '/v1/clusters');
    counter.stop();
    expect(JSON.stringify(second.body)).toBe(JSON.stringify(first.body));
    expect(second.headers.get('content-type')).toMatch(/^application\/json/);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    const reads = counter.queries.filter((q) => /\bFROM clusters c\b/.test(q.sql));
    expect(reads).toHaveLength(1);
    expect(reads[0].sql).not.toMatch(/conditions/);
    expect((second.body.items as unknown[]).length).toBe(3);
  });

  it('pages as before: limit, nextCursor and ?name=', async () => {
    const first = await s.client.call('GET', '/v1/clusters?limit=1');
    expect((first.body.items as { name: string }[]).map((i) => i.name)).toEqual(['a-one']);
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await s.client.call('GET', `/v1/clusters?limit=1&cursor=${first.body.nextCursor as string}`);
    expect((second.body.items as { name: string }[]).map((i) => i.name)).toEqual(['b-two']);
    expect(typeof second.body.nextCursor).toBe('string');
    const named = await s.client.call('GET', '/v1/clusters?name=c-three');
    expect((named.body.items as { name: string }[]).map((i) => i.name)).toEqual(['c-three']);
  });

  it('shows every change at once: node phase and usage, cluster status, endpoint, deletion', async () => {
    expect(await expectCurrent()).toHaveLength(3);
    const [a, b, c] = ids;

    // A node no longer Ready (a plain SQL write: no updated_at, no status_version).
    await db.query(
      `UPDATE nodes SET phase = 'NotReady' WHERE id = (SELECT id FROM nodes WHERE cluster_id = $1 AND role = 'worker' LIMIT 1)`,
      [a],
    );
    let items = (await expectCurrent()) as { id: string; nodeCounts: { ready: number } }[];
    expect(items.find((i) => i.id === a)!.nodeCounts.ready).toBe(1);

    // Usage reported by a node.
    await db.query(`UPDATE nodes SET usage = '{"cpuPercent": 42, "memoryMiB": 300}' WHERE cluster_id = $1`, [b]);
    items = (await expectCurrent()) as never;
    expect((items.find((i) => i.id === b) as unknown as { usage: { cpuPercent: number } }).usage.cpuPercent).toBe(42);

    // The cluster's own row: phase and conditions written without touching updated_at.
    await db.query(
      `UPDATE clusters SET phase = 'Degraded', conditions = conditions || '[{"type":"Test","status":"True","reason":"Written","message":"by hand","lastTransitionTime":"2026-01-01T00:00:00.000Z"}]'::jsonb WHERE id = $1`,
      [c],
    );
    items = (await expectCurrent()) as never;
    const changed = items.find((i) => i.id === c) as unknown as { phase: string; conditions: { type: string }[] };
    expect(changed.phase).toBe('Degraded');
    expect(changed.conditions.map((x) => x.type)).toContain('Test');

    // The endpoint's address, changed on the floating IP's row alone.
    await db.query(
      `UPDATE floating_ips SET address = '192.0.2.77' WHERE id = (SELECT floating_ip_id FROM clusters WHERE id = $1)`,
      [a],
    );
    await expectCurrent();

    // A cluster gone without the platform's knowing.
    await db.query(`DELETE FROM nodes WHERE cluster_id = $1`, [b]);
    await db.query(`DELETE FROM clusters WHERE id = $1`, [b]);
    expect(((await expectCurrent()) as { id: string }[]).map((i) => i.id).sort()).toEqual([a, c].sort());
  });

  it("never answers with another tenant's clusters", async () => {
    const other = await tenantWithInfra(p, 'answers-other');
    const list = await other.client.call('GET', '/v1/clusters');
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
  });
});
