import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { waitFor } from '../support/processes.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

describe('tenants reusing one VPC CIDR', () => {
  let p: Platform;
  let second: LibvirtTestHost;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
    await second?.cleanup();
  });

  it('puts their nodes on different hosts, and waits for a host when there is none', async () => {
    const a = await tenantWithInfra(p, 'same-a', '10.20.0.0/24');
    const b = await tenantWithInfra(p, 'same-b', '10.20.0.0/24');
    const ca = await a.client.call('POST', '/v1/clusters', clusterBody(a, { workers: 1 }));
    await waitForPhase(a.client, ca.body.id, 'Running');
    const cb = await b.client.call('POST', '/v1/clusters', clusterBody(b, { workers: 1 }));
    await waitFor('a placement refusal', async () =>
      ((await b.client.call('GET', `/v1/clusters/${cb.body.id}/events`)).body.items as { reason: string }[]).some(
        (e) => e.reason === 'NodeNotCreated',
      ),
    );
    expect((await b.client.call('GET', `/v1/clusters/${cb.body.id}`)).body.phase).toBe('Provisioning');
    expect((await b.client.call('GET', `/v1/clusters/${cb.body.id}/nodes`)).body.items).toEqual([]);
    second = await createLibvirtTestHost({ cpus: 64, memoryKiB: 64 * 1024 * 1024 });
    const h2 = await p.admin.call('POST', '/v1/hosts', { name: 'sim-2', uri: second.uri, domainType: 'qemu' });
    await waitForPhase(b.client, cb.body.id, 'Running', 30000);
    const hostsOf = async (client: typeof a.client, id: string) =>
      new Set(
        ((await client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as { hostId: string }[]).map(
          (n) => n.hostId,
        ),
      );
    expect([...(await hostsOf(a.client, ca.body.id))]).toEqual([p.hostId]);
    expect([...(await hostsOf(b.client, cb.body.id))]).toEqual([h2.body.id]);
  });
});
