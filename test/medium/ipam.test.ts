import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IpFreeList1764255600000 } from '../../migrations/1764255600000-IpFreeList.js';
import { Database } from '../../src/common/database.js';
import { dataSourceOptions } from '../../src/config/data-source.js';
import { FREE_LIST_BLOCK } from '../../src/networks/ipam.repository.js';
import { VpcsService } from '../../src/networks/vpcs.service.js';
import { createTenant, startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise with its resolve, to hold a transaction open until the test lets it go. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await sleep(10);
  }
}

describe('IP address management: the free list (real Postgres)', () => {
  let t: TestApp;
  let vpcs: VpcsService;
  let db: Database;

  beforeAll(async () => {
    // No quarantine: released addresses may come back at once, which the churn test relies on.
    t = await startTestApp({ KAAS_IP_QUARANTINE_SECONDS: '0' });
    vpcs = t.app.get(VpcsService);
    db = t.app.get(Database);
  });
  afterAll(async () => {
    await t.close();
  });

  async function vpcFor(name: string, cidr: string) {
    const tenant = await createTenant(t, name);
    const vpc = await tenant.client.call('POST', '/v1/vpcs', { name: 'net', cidr });
    expect(vpc.status).toBe(201);
    return { tenant, tenantId: tenant.id, vpcId: vpc.body.id as string };
  }
  const allocate = (tenantId: string, vpcId: string, ownerId = randomUUID()) =>
    db.transaction((tx) => vpcs.allocateAddress(tx, tenantId, vpcId, { kind: 'node', id: ownerId }));
  const freeRows = async (vpcId: string) =>
    Number((await db.manager.query(`SELECT count(*) AS n FROM ip_free_addresses WHERE vpc_id = $1`, [vpcId]))[0].n);

  it('lists a /16 in blocks as allocations reach them, not when the VPC is made', async () => {
    const { tenantId, vpcId } = await vpcFor('ipam-blocks', '10.110.0.0/16');
    expect(await freeRows(vpcId)).toBe(0);
    const got: string[] = [];
    for (let i = 0; i < FREE_LIST_BLOCK + 10; i++) got.push(await allocate(tenantId, vpcId));
    expect(got[0]).toBe('10.110.0.2');
    expect(got[FREE_LIST_BLOCK - 1]).toBe('10.110.1.1');
    expect(got.at(-1)).toBe('10.110.1.11');
    expect(await freeRows(vpcId)).toBe(FREE_LIST_BLOCK - 10);
    const [vpc] = await db.manager.query(`SELECT free_list_cursor FROM vpcs WHERE id = $1`, [vpcId]);
    expect(vpc.free_list_cursor).toBe(2 + 2 * FREE_LIST_BLOCK);
  });

  it('leaves a rolled-back allocation on the free list', async () => {
    const { tenantId, vpcId } = await vpcFor('ipam-rollback', '10.111.0.0/28');
    const failed = await db
      .transaction(async (tx) => {
        await vpcs.allocateAddress(tx, tenantId, vpcId, { kind: 'node', id: randomUUID() });
        throw new Error('the rest of the work failed');
      })
      .catch((err: Error) => err.message);
    expect(failed).toBe('the rest of the work failed');
    expect(await allocate(tenantId, vpcId)).toBe('10.111.0.2');
  });

  it('hands out fresh addresses before released ones, even after their quarantine', async () => {
    const { tenantId, vpcId } = await vpcFor('ipam-fresh', '10.112.0.0/28');
    const first = randomUUID();
    expect(await allocate(tenantId, vpcId, first)).toBe('10.112.0.2');
    expect(await vpcs.releaseAddresses(undefined, first)).toBe(1);
    const got: string[] = [];
    for (let i = 0; i < 11; i++) got.push(await allocate(tenantId, vpcId));
    expect(got[0]).toBe('10.112.0.3');
    expect(got[10]).toBe('10.112.0.13');
    // The range is used up: now the released address comes back.
    expect(await allocate(tenantId, vpcId)).toBe('10.112.0.2');
    await expect(allocate(tenantId, vpcId)).rejects.toThrow(/no free address/);
  });

  it('waits for an allocator holding the last free address instead of answering full', async () => {
    const { tenantId, vpcId } = await vpcFor('ipam-last', '10.113.0.0/28');
    for (let i = 0; i < 11; i++) await allocate(tenantId, vpcId);
    const hold = gate();
    let held: string | undefined;
    const holder = db
      .transaction(async (tx) => {
        held = await vpcs.allocateAddress(tx, tenantId, vpcId, { kind: 'node', id: randomUUID() });
        await hold.wait;
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await eventually(() => held !== undefined);
    expect(held).toBe('10.113.0.13');
    let settled = false;
    const waiter = allocate(tenantId, vpcId).finally(() => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    hold.open();
    await holder;
    expect(await waiter).toBe('10.113.0.13');
    await expect(allocate(tenantId, vpcId)).rejects.toThrow(/VPC "net" \(10.113.0.0\/28\) has no free address/);
  });

  it('keeps a VPC deletion and allocations of that VPC apart', async () => {
    const { tenant, tenantId, vpcId } = await vpcFor('ipam-delete', '10.114.0.0/24');
    // An allocation in flight: the deletion waits for it, then finds the address in use.
    const hold = gate();
    let held: string | undefined;
    const owner = randomUUID();
    const holder = db.transaction(async (tx) => {
      held = await vpcs.allocateAddress(tx, tenantId, vpcId, { kind: 'node', id: owner });
      await hold.wait;
    });
    await eventually(() => held !== undefined);
    let deletedStatus: number | undefined;
    const deletion = tenant.client.call('DELETE', `/v1/vpcs/${vpcId}`).then((r) => (deletedStatus = r.status));
    await sleep(300);
    expect(deletedStatus).toBeUndefined();
    hold.open();
    await holder;
    await deletion;
    expect(deletedStatus).toBe(409);

    // A deletion in flight: an allocation waits for it, then finds no VPC.
    await vpcs.releaseAddresses(undefined, owner);
    const hold2 = gate();
    let locked = false;
    const deleter = db.transaction(async (tx) => {
      await tx.query(`SELECT 1 FROM vpcs WHERE id = $1 FOR UPDATE`, [vpcId]);
      locked = true;
      await hold2.wait;
      await tx.query(`DELETE FROM ip_allocations WHERE vpc_id = $1`, [vpcId]);
      await tx.query(`DELETE FROM vpcs WHERE id = $1`, [vpcId]);
    });
    await eventually(() => locked);
    let settled = false;
    const late = allocate(tenantId, vpcId)
      .then(() => 'allocated')
      .catch((err: Error) => err.message)
      .finally(() => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    hold2.open();
    await deleter;
    expect(await late).toMatch(/VPC .* not found/i);
    expect(await freeRows(vpcId)).toBe(0);
  });

  it('never has two holders of one address while 16 clients allocate and release in a /28', async () => {
    const { tenantId, vpcId } = await vpcFor('ipam-churn', '10.115.0.0/28');
    const live = new Map<string, string>();
    const problems: string[] = [];
    let allocations = 0;
    let full = 0;
    const deadline = Date.now() + 3000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (Date.now() < deadline) {
          const owner = randomUUID();
          let address: string;
          try {
            address = await allocate(tenantId, vpcId, owner);
          } catch (err) {
            if (/no free address/.test((err as Error).message)) full++;
            else problems.push((err as Error).message);
            continue;
          }
          allocations++;
          if (live.has(address)) problems.push(`${address} handed to ${owner} while ${live.get(address)} holds it`);
          live.set(address, owner);
          await sleep(Math.random() * 5);
          live.delete(address);
          await vpcs.releaseAddresses(undefined, owner);
        }
      }),
    );
    expect(problems).toEqual([]);
    expect(allocations).toBeGreaterThan(50);
    expect(full).toBeGreaterThan(0);
    const [counts] = await db.manager.query(
      `SELECT count(*) FILTER (WHERE released_at IS NULL)::int AS held,
              count(*) FILTER (WHERE address = '10.115.0.14')::int AS health_check
         FROM ip_allocations WHERE vpc_id = $1`,
      [vpcId],
    );
    expect(counts).toEqual({ held: 0, health_check: 0 });
    // Every address is still somewhere: on the free list or in quarantine, and none twice.
    const [spread] = await db.manager.query(
      `SELECT count(*)::int AS n, count(DISTINCT address)::int AS distinct FROM (
         SELECT address FROM ip_free_addresses WHERE vpc_id = $1
         UNION ALL SELECT address FROM ip_allocations WHERE vpc_id = $1) a`,
      [vpcId],
    );
    expect(spread).toEqual({ n: 12, distinct: 12 });
  });
});

describe('IP address management: the free-list migration on existing VPCs', () => {
  let tdb: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    ds = await new DataSource(dataSourceOptions(tdb.url)).initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await tdb.drop();
  });

  it('continues after the highest address handed out and lists the gaps below it', async () => {
    const migration = new IpFreeList1764255600000();
    const runner = ds.createQueryRunner();
    try {
      await migration.down(runner);
      const [tenant] = await ds.query(
        `INSERT INTO tenants (name, max_clusters, max_nodes, max_vcpus, max_memory_mib, max_storage_gib, max_floating_ips)
         VALUES ('legacy', 1, 1, 1, 1, 1, 1) RETURNING id`,
      );
      const [used] = await ds.query(
        `INSERT INTO vpcs (tenant_id, name, cidr, gateway) VALUES ($1, 'used', '10.120.0.0/24', '10.120.0.1') RETURNING id`,
        [tenant.id],
      );
      const [empty] = await ds.query(
        `INSERT INTO vpcs (tenant_id, name, cidr, gateway) VALUES ($1, 'empty', '10.121.0.0/24', '10.121.0.1') RETURNING id`,
        [tenant.id],
      );
      // .4 and .8 were released and their rows deleted at the end of the quarantine; .6 is in
      // quarantine; .7's quarantine is over but its row is still there.
      for (const [host, released] of [
        [2, null],
        [3, null],
        [5, null],
        [6, 'now()'],
        [7, `now() - interval '1 day'`],
        [9, null],
      ] as const) {
        await ds.query(
          `INSERT INTO ip_allocations (vpc_id, address, owner_kind, owner_id, released_at)
           VALUES ($1, $2::inet, 'node', gen_random_uuid(), ${released ?? 'NULL'})`,
          [used.id, `10.120.0.${host}`],
        );
      }
      await migration.up(runner);
      const cursors = await ds.query(`SELECT name, free_list_cursor FROM vpcs ORDER BY name`);
      expect(cursors).toEqual([
        { name: 'empty', free_list_cursor: 2 },
        { name: 'used', free_list_cursor: 10 },
      ]);
      const free = await ds.query(
        `SELECT vpc_id, host(address) AS address FROM ip_free_addresses ORDER BY vpc_id, address`,
      );
      expect(free).toEqual([
        { vpc_id: used.id, address: '10.120.0.4' },
        { vpc_id: used.id, address: '10.120.0.8' },
      ]);
      expect(free.some((f: { vpc_id: string }) => f.vpc_id === empty.id)).toBe(false);
      // And back: the allocations are all the schema before it needs.
      await migration.down(runner);
      expect(Number((await ds.query(`SELECT count(*) AS n FROM ip_allocations`))[0].n)).toBe(6);
      await migration.up(runner);
    } finally {
      await runner.release();
    }
  });
});
