import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { testNorthbound } from '../support/northbound-per-file.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

/**
 * Two tenants with one VPC CIDR share a host: each VPC is its own OVN switch and router, and no
 * VPC address is in any host's routing table, so nothing keeps them apart on placement.
 */
describe('tenants reusing one VPC CIDR', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  it('run on the same host, each on a switch of its own, with the same addresses', async () => {
    const a = await tenantWithInfra(p, 'same-a', '10.20.0.0/24');
    const b = await tenantWithInfra(p, 'same-b', '10.20.0.0/24');
    const ca = await a.client.call('POST', '/v1/clusters', clusterBody(a, { workers: 1 }));
    const cb = await b.client.call('POST', '/v1/clusters', clusterBody(b, { workers: 1 }));
    await waitForPhase(a.client, ca.body.id, 'Running');
    await waitForPhase(b.client, cb.body.id, 'Running');
    const nodesOf = async (client: typeof a.client, id: string) =>
      (
        (await client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as {
          id: string;
          hostId: string;
          address: string;
        }[]
      ).sort((x, y) => x.address.localeCompare(y.address));
    const na = await nodesOf(a.client, ca.body.id);
    const nb = await nodesOf(b.client, cb.body.id);
    expect(new Set([...na, ...nb].map((n) => n.hostId))).toEqual(new Set([p.hostId]));
    expect(na.map((n) => n.address)).toEqual(nb.map((n) => n.address));
    // Each node's port is on its own tenant's switch.
    const nbdb = testNorthbound();
    const portsOf = async (vpcId: string) =>
      (
        await nbdb.exec('ovn-nbctl', [
          `--db=${nbdb.remote}`,
          '--bare',
          '--columns=name',
          'find',
          'Logical_Switch_Port',
          `external_ids:kaas\\:vpc-id=${vpcId}`,
          'external_ids:kaas\\:kind=node-port',
        ])
      ).stdout
        .split(/\s+/)
        .filter(Boolean)
        .sort();
    expect(await portsOf(a.vpcId)).toEqual(na.map((n) => n.id).sort());
    expect(await portsOf(b.vpcId)).toEqual(nb.map((n) => n.id).sort());
    const switchPorts = async (vpcId: string) =>
      (await nbdb.exec('ovn-nbctl', [`--db=${nbdb.remote}`, 'lsp-list', `kaas-vpc-${vpcId}`])).stdout;
    for (const n of na) expect(await switchPorts(a.vpcId)).toContain(n.id);
    for (const n of nb) expect(await switchPorts(a.vpcId)).not.toContain(n.id);
  });
});
