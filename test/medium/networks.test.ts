import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Database } from '../../src/common/database.js';
import { FloatingIpsRepository } from '../../src/networks/floating-ips.repository.js';
import { FloatingIpsService } from '../../src/networks/floating-ips.service.js';
import { VpcsService } from '../../src/networks/vpcs.service.js';
import { createTenant, startTestApp, type TestApp } from '../support/test-app.js';

describe('VPCs, IP address management and floating IPs (real Postgres)', () => {
  let t: TestApp;
  let vpcs: VpcsService;
  let db: Database;

  beforeAll(async () => {
    t = await startTestApp({ KAAS_IP_QUARANTINE_SECONDS: '2', KAAS_RESERVED_CIDRS: '10.99.0.0/16, 172.16.0.0/12' });
    vpcs = t.app.get(VpcsService);
    db = t.app.get(Database);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('VPCs', () => {
    it('create, list, show and delete', async () => {
      const { client } = await createTenant(t, 'vpc-owner');
      const created = await client.call('POST', '/v1/vpcs', { name: 'prod', cidr: '10.20.0.0/24' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual(
        expect.objectContaining({ name: 'prod', cidr: '10.20.0.0/24', gateway: '10.20.0.1', state: 'Ready' }),
      );
      expect((await client.call('GET', '/v1/vpcs')).body.items).toHaveLength(1);
      expect((await client.call('GET', `/v1/vpcs/${created.body.id}`)).body.id).toBe(created.body.id);
      expect((await client.call('DELETE', `/v1/vpcs/${created.body.id}`)).status).toBe(204);
      expect((await client.call('GET', `/v1/vpcs/${created.body.id}`)).status).toBe(404);
    });

    it.each([
      ['public range', '8.8.8.0/24', /private range/],
      ['prefix too wide', '10.0.0.0/15', /out of range/],
      ['prefix too narrow', '10.0.0.0/29', /out of range/],
      ['host bits', '10.0.0.1/24', /host bits/],
      ['garbage', 'ten.0.0.0/24', /not an IPv4/],
      ['IPv6', 'fd00::/64', /not an IPv4/],
    ])('refuses a %s with 400 naming cidr', async (_label, cidr, problem) => {
      const { client } = await createTenant(t, `bad-${randomUUID().slice(0, 8)}`);
      const res = await client.call('POST', '/v1/vpcs', { name: 'x', cidr });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^cidr: /);
      expect(res.body.message).toMatch(problem);
      expect((await client.call('GET', '/v1/vpcs')).body.items).toEqual([]);
    });

    it('refuses overlapping VPCs of one tenant but lets tenants reuse a CIDR', async () => {
      const a = await createTenant(t, 'overlap-a');
      const b = await createTenant(t, 'overlap-b');
      expect((await a.client.call('POST', '/v1/vpcs', { name: 'one', cidr: '10.30.0.0/16' })).status).toBe(201);
      const clash = await a.client.call('POST', '/v1/vpcs', { name: 'two', cidr: '10.30.5.0/24' });
      expect(clash.status).toBe(409);
      expect(clash.body.message).toMatch(/overlaps VPC "one"/);
      expect((await a.client.call('POST', '/v1/vpcs', { name: 'one', cidr: '10.31.0.0/24' })).status).toBe(409);
      expect((await b.client.call('POST', '/v1/vpcs', { name: 'one', cidr: '10.30.0.0/16' })).status).toBe(201);
    });

    it('refuses a range the operator reserved or a floating-IP range uses, with 422 naming it', async () => {
      const { client } = await createTenant(t, 'reserved-user');
      const reserved = await client.call('POST', '/v1/vpcs', { name: 'x', cidr: '10.99.8.0/24' });
      expect(reserved.status).toBe(422);
      expect(reserved.body.message).toMatch(/overlaps the reserved range 10\.99\.0\.0\/16/);
      expect(reserved.body.details).toEqual(expect.objectContaining({ field: 'cidr', reserved: '10.99.0.0/16' }));
      expect((await client.call('POST', '/v1/vpcs', { name: 'x', cidr: '172.20.0.0/16' })).status).toBe(422);
      expect((await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.251.128.0/29' })).status).toBe(201);
      const onProvider = await client.call('POST', '/v1/vpcs', { name: 'x', cidr: '10.251.128.0/24' });
      expect(onProvider.status).toBe(422);
      expect(onProvider.body.message).toMatch(/floating-IP range 10\.251\.128\.2-10\.251\.128\.6/);
      expect((await client.call('GET', '/v1/vpcs')).body.items).toEqual([]);
      // And the other way round: a range is refused over a tenant's VPC.
      expect((await client.call('POST', '/v1/vpcs', { name: 'y', cidr: '10.254.0.0/24' })).status).toBe(201);
      const range = await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.254.0.0/28' });
      expect(range.status).toBe(422);
      expect(range.body.message).toMatch(/provider network 10\.254\.0\.0\/28 overlaps 1 tenant VPC/);
      expect(range.body.details).toEqual(expect.objectContaining({ field: 'cidr' }));
      const ranges = (await t.admin.call('GET', '/v1/floating-ip-ranges')).body.items as { start: string }[];
      expect(ranges.map((r) => r.start)).not.toContain('10.254.0.2');
    });

    it('refuses overlapping VPCs created at the same moment', async () => {
      const { client } = await createTenant(t, 'overlap-race');
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          client.call('POST', '/v1/vpcs', {
            name: `r${i}`,
            cidr: `10.40.${i}.0/24`.replace(/\.\d+\.0\/24$/, '.0.0/16'),
          }),
        ),
      );
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 409)).toHaveLength(7);
    });

    it('keeps VPCs apart between tenants', async () => {
      const a = await createTenant(t, 'iso-a');
      const b = await createTenant(t, 'iso-b');
      const vpc = await a.client.call('POST', '/v1/vpcs', { name: 'secret', cidr: '192.168.10.0/24' });
      expect((await b.client.call('GET', `/v1/vpcs/${vpc.body.id}`)).status).toBe(404);
      expect((await b.client.call('DELETE', `/v1/vpcs/${vpc.body.id}`)).status).toBe(404);
      expect((await b.client.call('GET', '/v1/vpcs')).body.items).toEqual([]);
    });
  });

  describe('IP address management', () => {
    async function vpcFor(name: string, cidr: string) {
      const tenant = await createTenant(t, name);
      const vpc = await tenant.client.call('POST', '/v1/vpcs', { name: 'net', cidr });
      return { tenant, vpcId: vpc.body.id as string };
    }
    const allocate = (tenantId: string, vpcId: string, ownerId = randomUUID()) =>
      db.transaction((tx) => vpcs.allocateAddress(tx, tenantId, vpcId, { kind: 'node', id: ownerId }));

    it('never hands out one address twice under 200 parallel allocations', async () => {
      const { tenant, vpcId } = await vpcFor('ipam-race', '10.50.0.0/22');
      const results = await Promise.allSettled(Array.from({ length: 200 }, () => allocate(tenant.id, vpcId)));
      const addresses = results.map((r) => (r.status === 'fulfilled' ? r.value : `error: ${String(r.reason)}`));
      expect(addresses.filter((a) => a.startsWith('error'))).toEqual([]);
      expect(new Set(addresses).size).toBe(200);
      expect(addresses).not.toContain('10.50.0.0');
      expect(addresses).not.toContain('10.50.0.1');
    });

    it('uses every node address of a /28 and then answers 422 naming the VPC', async () => {
      const { tenant, vpcId } = await vpcFor('ipam-full', '10.60.0.0/28');
      const got: string[] = [];
      for (let i = 0; i < 12; i++) got.push(await allocate(tenant.id, vpcId));
      // .1 is the router's, .14 the load balancers' health-check source: neither goes to a node.
      expect(got[0]).toBe('10.60.0.2');
      expect(got[11]).toBe('10.60.0.13');
      expect(got).not.toContain('10.60.0.14');
      await expect(allocate(tenant.id, vpcId)).rejects.toThrow(/VPC "net" \(10.60.0.0\/28\) has no free address/);
    });

    it('keeps a released address out of use for the quarantine, then reuses it', async () => {
      const { tenant, vpcId } = await vpcFor('ipam-quarantine', '10.70.0.0/28');
      const owners = Array.from({ length: 12 }, () => randomUUID());
      for (const owner of owners) await allocate(tenant.id, vpcId, owner);
      expect(await vpcs.releaseAddresses(undefined, owners[4])).toBe(1);
      // The VPC is full but for the quarantined 10.70.0.6: nothing to hand out yet.
      await expect(allocate(tenant.id, vpcId)).rejects.toThrow(/no free address/);
      await new Promise((r) => setTimeout(r, 2200));
      expect(await allocate(tenant.id, vpcId)).toBe('10.70.0.6');
    });

    it('refuses to delete a VPC with addresses in use (409)', async () => {
      const { tenant, vpcId } = await vpcFor('ipam-inuse', '10.80.0.0/24');
      const owner = randomUUID();
      await allocate(tenant.id, vpcId, owner);
      const res = await tenant.client.call('DELETE', `/v1/vpcs/${vpcId}`);
      expect(res.status).toBe(409);
      await vpcs.releaseAddresses(undefined, owner);
      expect((await tenant.client.call('DELETE', `/v1/vpcs/${vpcId}`)).status).toBe(204);
    });
  });

  describe('floating IPs', () => {
    it('the operator adds ranges; tenants allocate, list and release addresses within quota', async () => {
      const range = await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.250.0.0/29' });
      expect(range.status).toBe(201);
      expect(range.body).toEqual(
        expect.objectContaining({ start: '10.250.0.2', end: '10.250.0.6', total: 5, used: 0, free: 5 }),
      );
      const { id: tenantId, client } = await createTenant(t, 'fip-user');
      await t.admin.call('PUT', `/v1/tenants/${tenantId}/quota`, {
        maxClusters: 1,
        maxNodes: 1,
        maxVcpus: 1,
        maxMemoryMiB: 1,
        maxStorageGiB: 1,
        maxFloatingIps: 2,
      });
      const one = await client.call('POST', '/v1/floating-ips', {});
      expect(one.status).toBe(201);
      expect(one.body).toEqual(expect.objectContaining({ address: '10.250.0.2', clusterId: null }));
      expect((await client.call('POST', '/v1/floating-ips', {})).body.address).toBe('10.250.0.3');
      const over = await client.call('POST', '/v1/floating-ips', {});
      expect(over.status).toBe(422);
      expect(over.body.message).toMatch(/maxFloatingIps/);
      const ranges = await t.admin.call('GET', '/v1/floating-ip-ranges');
      expect(ranges.body.items[0]).toEqual(expect.objectContaining({ used: 2, free: 3 }));
      expect((await client.call('DELETE', `/v1/floating-ips/${one.body.id}`)).status).toBe(204);
      expect(
        (await client.call('GET', '/v1/floating-ips')).body.items.map((f: { address: string }) => f.address),
      ).toEqual(['10.250.0.3']);
      expect((await client.call('POST', '/v1/floating-ips', { address: '1.2.3.4' })).status).toBe(400);
    });

    it('refuses overlapping ranges, bad ranges, and tenants on the operator route', async () => {
      await t.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.251.0.10', end: '10.251.0.20' });
      expect((await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.251.0.0/24' })).status).toBe(409);
      expect(
        (await t.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.252.0.9', end: '10.252.0.1' })).status,
      ).toBe(400);
      expect((await t.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.252.0.9' })).body.message).toMatch(
        /^end:/,
      );
      expect((await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.0.0.0/8' })).status).toBe(400);
      expect(
        (await t.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.252.1.1', end: '10.252.1.9' })).body.message,
      ).toMatch(/^start: must be above 10.252.1.1/);
      expect(
        (await t.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.252.2.9', end: '10.252.3.9' })).body.message,
      ).toMatch(/^end: .*one \/24/);
      const { client } = await createTenant(t, 'fip-nosy');
      expect((await client.call('GET', '/v1/floating-ip-ranges')).status).toBe(403);
    });

    it('answers 409 when releasing an associated address, and keeps tenants apart', async () => {
      const a = await createTenant(t, 'fip-a');
      const b = await createTenant(t, 'fip-b');
      const ip = await a.client.call('POST', '/v1/floating-ips', {});
      expect(ip.status).toBe(201);
      expect((await b.client.call('GET', `/v1/floating-ips/${ip.body.id}`)).status).toBe(404);
      expect((await b.client.call('DELETE', `/v1/floating-ips/${ip.body.id}`)).status).toBe(404);
      const clusterId = randomUUID();
      await db.transaction((tx) => t.app.get(FloatingIpsService).associate(tx, a.id, ip.body.id, clusterId));
      const res = await a.client.call('DELETE', `/v1/floating-ips/${ip.body.id}`);
      expect(res.status).toBe(409);
      expect((await a.client.call('GET', `/v1/floating-ips/${ip.body.id}`)).body.clusterId).toBe(clusterId);
    });

    it('hands out distinct addresses to parallel requests', async () => {
      await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.253.0.0/26' });
      const tenants = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((n) => createTenant(t, `fip-${n}`)));
      const answers = await Promise.all(
        tenants.flatMap((x) => Array.from({ length: 5 }, () => x.client.call('POST', '/v1/floating-ips', {}))),
      );
      expect(answers.every((a) => a.status === 201)).toBe(true);
      const addresses = answers.map((a) => a.body.address);
      expect(new Set(addresses).size).toBe(addresses.length);
    });

    it("allocates a tenant's address while a VPC router takes one of that tenant's (one lock order, no deadlock)", async () => {
      // A router's address is taken under the address-space lock and then inserted for the VPC's
      // tenant (a foreign-key lock on the tenant's row); a tenant's own allocation reserves quota
      // (the tenant's row) and needs the address-space lock. In opposite orders the two deadlock.
      await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.253.1.0/28' });
      const { client, id: tenantId } = await createTenant(t, 'fip-vs-router');
      const vpc = await client.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.31.0.0/24' });
      const repo = t.app.get(FloatingIpsRepository);
      let answer: Promise<{ status: number; body: unknown }> | undefined;
      const router = await db.transaction(async (tx) => {
        await repo.lockAddressSpace(tx);
        answer = client.call('POST', '/v1/floating-ips', {});
        // The request reaches the lock it waits for.
        await new Promise((r) => setTimeout(r, 500));
        return repo.allocate(tx, tenantId, { vpcId: vpc.body.id as string });
      });
      expect(router?.vpcId).toBe(vpc.body.id);
      const res = await answer!;
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    });

    it('allocates once when the retry follows an attempt that died after allocating', async () => {
      const { client } = await createTenant(t, 'fip-retry');
      const headers = { 'idempotency-key': 'fip-once' };
      const first = await client.call('POST', '/v1/floating-ips', {}, headers);
      expect(first.status).toBe(201);
      // Back to what the attempt left when its process died after the commit, before the answer
      // was stored: the record in progress, marking the address it allocated.
      await db.manager.query(
        `UPDATE idempotency_records
            SET status_code = NULL, created_at = now() - interval '61 seconds',
                response_body = jsonb_build_object('effect', jsonb_build_object('kind', 'floating-ip', 'id', $1::text))
          WHERE idempotency_key = 'fip-once'`,
        [first.body.id],
      );
      const retried = await client.call('POST', '/v1/floating-ips', {}, headers);
      expect(retried.status).toBe(201);
      expect(retried.body).toEqual(first.body);
      expect((await client.call('GET', '/v1/floating-ips')).body.items).toHaveLength(1);
    });
  });
});
