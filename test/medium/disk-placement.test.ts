import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { waitFor } from '../support/processes.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

/** Placement counts disk: a host registered with 50 GiB takes two 20-GiB nodes, not a third. */
describe('placement by disk', () => {
  let p: Platform;
  let small: LibvirtTestHost;

  beforeAll(async () => {
    p = await startPlatform();
    small = await createLibvirtTestHost({ cpus: 64, memoryKiB: 64 * 1024 * 1024 });
  }, 60000);
  afterAll(async () => {
    await p?.close();
    await small?.cleanup();
  });

  it('refuses a node no host has the disk for, and shows disk in the host', async () => {
    expect((await p.admin.call('POST', `/v1/hosts/${p.hostId}/drain`, {})).status).toBe(202);
    const reg = await p.admin.call('POST', '/v1/hosts', {
      name: 'small',
      uri: small.uri,
      domainType: 'qemu',
      diskGiB: 50,
    });
    expect(reg.status).toBe(201);
    expect(reg.body.capacity).toEqual(expect.objectContaining({ diskGiB: 50 }));
    const bad = await p.admin.call('POST', '/v1/hosts', {
      name: 'bad',
      uri: small.uri,
      domainType: 'qemu',
      diskGiB: 0,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('diskGiB');
    await waitFor(
      'the host to be Ready',
      async () => (await p.admin.call('GET', `/v1/hosts/${reg.body.id}`)).body.state === 'Ready',
    );
    const s = await tenantWithInfra(p, 'disk');
    const ok = await s.client.call('POST', '/v1/clusters', clusterBody(s, { name: 'two', workers: 1 }));
    await waitForPhase(s.client, ok.body.id, 'Running');
    const host = (await p.admin.call('GET', `/v1/hosts/${reg.body.id}`)).body;
    expect(host.allocated).toEqual(expect.objectContaining({ nodes: 2, diskGiB: 40 }));
    const fip = await s.client.call('POST', '/v1/floating-ips', {});
    const more = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, { name: 'more', workers: 0, floatingIpId: fip.body.id }),
    );
    expect(more.status).toBe(202);
    await waitFor('a placement refusal naming disk', async () =>
      (
        (await s.client.call('GET', `/v1/clusters/${more.body.id}/events`)).body.items as {
          reason: string;
          message: string;
        }[]
      ).some((e) => e.reason === 'NodeNotCreated' && e.message.includes('20 GiB of disk')),
    );
  });
});
