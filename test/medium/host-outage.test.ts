import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { waitFor } from '../support/processes.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

jest.setTimeout(90000);

interface NodeView {
  id: string;
  role: string;
  phase: string;
  name: string;
  hostId: string;
}

/**
 * A host drops off the network (a partition: its VMs keep running) and comes back: its nodes
 * count as unhealthy after the cluster's unhealthy timeout, replacements are placed on the
 * other host, the cluster is Running again while the host is away, and when the host returns
 * the stale VMs are powered off and removed before anything else: never two live copies.
 */
describe('a host taken away and brought back (simulated hosts)', () => {
  let p: Platform;
  let second: LibvirtTestHost;
  let secondId: string;

  beforeAll(async () => {
    p = await startPlatform({ KAAS_RESYNC_SECONDS: '1', KAAS_HOST_LEASE_MS: '3000' });
  }, 60000);
  afterAll(async () => {
    await p?.close();
    await second?.cleanup();
  });

  const hostState = async (id: string) => (await p.admin.call('GET', `/v1/hosts/${id}`)).body.state as string;

  it('replaces the nodes of an unreachable host elsewhere and fences the stale VMs when it returns', async () => {
    const s = await tenantWithInfra(p, 'outage');
    const created = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, { workers: 0, settings: { unhealthyTimeoutSeconds: 5 } }),
    );
    expect(created.status).toBe(202);
    const clusterId = created.body.id as string;
    await waitForPhase(s.client, clusterId, 'Running');

    // A second host; the new worker spreads onto it (it holds none of the cluster's nodes).
    second = await createLibvirtTestHost({ cpus: 64, memoryKiB: 256 * 1024 * 1024 });
    const reg = await p.admin.call('POST', '/v1/hosts', { name: 'sim-2', uri: second.uri, domainType: 'qemu' });
    expect(reg.status).toBe(201);
    secondId = reg.body.id;
    await p.worker.get(HostLeases).tick();
    await waitFor('sim-2 Ready', async () => (await hostState(secondId)) === 'Ready');
    await s.client.call('PATCH', `/v1/clusters/${clusterId}`, { workers: 1 });
    await waitForPhase(s.client, clusterId, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 2);
    const nodes = async () => (await s.client.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items as NodeView[];
    const victim = (await nodes()).find((n) => n.role === 'worker')!;
    expect(victim.hostId).toBe(secondId);

    // The host goes away.
    const fault = await p.admin.call('POST', `/v1/hosts/${secondId}/faults`, { fault: 'unreachable' });
    expect(fault.status).toBe(202);
    await waitFor('sim-2 Unreachable', async () => (await hostState(secondId)) === 'Unreachable');

    // Its worker is replaced on the other host; the cluster is Running without it.
    await waitFor(
      'a replacement worker Ready on sim-1',
      async () =>
        (await nodes()).some(
          (n) => n.role === 'worker' && n.id !== victim.id && n.hostId === p.hostId && n.phase === 'Ready',
        ),
      30000,
    );
    const running = await waitForPhase(
      s.client,
      clusterId,
      'Running',
      30000,
      (c) => (c.nodeCounts as { ready: number }).ready === 2,
    );
    expect(running.conditions).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]),
    );
    const old = (await nodes()).find((n) => n.id === victim.id);
    expect(old?.phase ?? 'gone').not.toBe('Ready');
    const events = async () =>
      (await s.client.call('GET', `/v1/clusters/${clusterId}/events?limit=1000`)).body.items as {
        reason: string;
        message: string;
        nodeId: string | null;
      }[];
    expect((await events()).some((e) => e.reason === 'NodeUnhealthy' && e.message.includes('unreachable'))).toBe(true);

    // While it is away its VM still runs there (a partition, not a crash).
    const runtime = p.worker.get(HostLeases).runtime(secondId)!;
    expect(runtime.connected).toBe(false);

    // The host returns: the stale VM is powered off at once, then removed with its address.
    await p.admin.call('POST', `/v1/hosts/${secondId}/faults`, { fault: 'reachable' });
    await waitFor('sim-2 Ready again', async () => (await hostState(secondId)) === 'Ready');
    await waitFor('the stale node to be gone', async () => !(await nodes()).some((n) => n.id === victim.id), 30000);
    expect((await events()).some((e) => e.reason === 'NodeFenced' && e.nodeId === victim.id)).toBe(true);
    const inventory = await runtime.backend!.inventory();
    expect(inventory.domains.map((d) => d.name)).not.toContain(libvirtNames.domain(victim.id));
    expect(inventory.domains.filter((d) => d.owner?.clusterId === clusterId)).toEqual([]);
    const [ip] = await p.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM ip_allocations WHERE owner_id = $1 AND released_at IS NULL`, [victim.id]);
    expect(ip.n).toBe(0);
    await waitForPhase(s.client, clusterId, 'Running', 30000, (c) => (c.nodeCounts as { ready: number }).ready === 2);
  });
});
