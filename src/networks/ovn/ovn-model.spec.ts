import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  endpointRemovalScope,
  endpointScope,
  healthCheckSourceAddress,
  nodePortScope,
  providerScope,
  vpcRemovalScope,
  vpcScope,
  type VpcNetworkSpec,
} from './ovn-model.js';
import { derivedMac } from './ovn-names.js';
import { OvnNetworkError } from './ovn-network-error.js';
import { IDS, SPECS } from './testing/network-specs.js';

const TESTDATA = join(import.meta.dirname, 'testdata');
function golden(name: string): unknown {
  return JSON.parse(readFileSync(join(TESTDATA, name), 'utf8'));
}
/** JSON drops nothing the model produces (it uses null, never undefined), so a round trip is exact. */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
function invalid(fn: () => unknown): OvnNetworkError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OvnNetworkError);
    expect((err as OvnNetworkError).code).toBe('INVALID_SPEC');
    return err as OvnNetworkError;
  }
  throw new Error('expected INVALID_SPEC');
}

describe('the OVN network model', () => {
  it('describes a VPC as the rows of the golden file', () => {
    expect(asJson(vpcScope(SPECS.vpc))).toEqual(golden('model-vpc.json'));
  });

  it('describes a provider network as the rows of the golden file', () => {
    expect(asJson(providerScope(SPECS.provider))).toEqual(golden('model-provider.json'));
  });

  it('describes a node port as the rows of the golden file', () => {
    expect(asJson(nodePortScope(SPECS.port))).toEqual(golden('model-node-port.json'));
  });

  it('describes a cluster endpoint as the rows of the golden file', () => {
    expect(asJson(endpointScope(SPECS.endpoint))).toEqual(golden('model-endpoint.json'));
  });

  it('gives every row its kind and owners, and names rows after platform ids only', () => {
    const scopes = [
      vpcScope(SPECS.vpc),
      providerScope(SPECS.provider),
      nodePortScope(SPECS.port),
      endpointScope(SPECS.endpoint),
    ];
    const ids: string[] = Object.values(IDS);
    for (const row of scopes.flatMap((s) => s.desired)) {
      const externalIds = row.columns['external_ids'] as Record<string, string>;
      expect(externalIds['kaas:kind']).toMatch(/^[a-z-]+$/);
      expect(Object.keys(externalIds).some((k) => /^kaas:(vpc|range|node|cluster)-id$/.test(k))).toBe(true);
      const name = row.columns['name'];
      if (typeof name === 'string') {
        // What is left once the ids are taken out is a fixed prefix (and, for gateway chassis,
        // the operator's chassis name).
        const rest = ids.reduce((n, id) => n.replaceAll(id, '<id>'), name);
        expect(rest).toMatch(/^(<id>|kaas-[a-z-]+<id>(-host-[12])?)$/);
      }
    }
  });

  it('hands out DNS servers only when asked, and no SNAT without egress', () => {
    const withDns = vpcScope({ ...SPECS.vpc, dns: ['10.9.9.9', '10.9.9.10'] });
    const dhcp = withDns.desired.find((d) => d.table === 'DHCP_Options');
    expect((dhcp?.columns['options'] as Record<string, string>)['dns_server']).toBe('{10.9.9.9, 10.9.9.10}');
    const noEgress = vpcScope({ ...SPECS.vpc, egress: false });
    expect(noEgress.desired.map((d) => d.table)).not.toContain('NAT');
    const isolated = vpcScope({ ...SPECS.vpc, egress: false, gateway: undefined });
    expect(isolated.desired.map((d) => d.columns['name']).filter(Boolean)).toEqual([
      `kaas-vpc-${IDS.vpc}`,
      `kaas-lr-${IDS.vpc}`,
      `kaas-lrp-${IDS.vpc}`,
      `kaas-lsp-lr-${IDS.vpc}`,
    ]);
    expect(isolated.externals).toEqual([]);
  });

  it('lists the same endpoint the same way whatever the order of its masters', () => {
    const reversed = { ...SPECS.endpoint, backends: [...SPECS.endpoint.backends].reverse() };
    expect(endpointScope(reversed)).toEqual(endpointScope(SPECS.endpoint));
  });

  it('takes health checks from the last host address of the VPC, never the gateway', () => {
    expect(healthCheckSourceAddress('10.0.0.0/24')).toBe('10.0.0.254');
    expect(healthCheckSourceAddress('172.16.8.0/28')).toBe('172.16.8.14');
    const err = invalid(() => endpointScope({ ...SPECS.endpoint, backends: [{ nodeId: IDS.node, ip: '10.0.0.254' }] }));
    expect(err.message).toContain('health-check source');
  });

  it('derives stable, locally administered unicast MACs', () => {
    expect(derivedMac('a')).toBe(derivedMac('a'));
    expect(derivedMac('a')).not.toBe(derivedMac('b'));
    expect(derivedMac('a')).toMatch(/^0a(:[0-9a-f]{2}){5}$/);
  });

  it('refuses specs that cannot describe a network', () => {
    const vpc = (change: Partial<VpcNetworkSpec>) => () => vpcScope({ ...SPECS.vpc, ...change });
    expect(invalid(vpc({ vpcId: 'vpc-1' })).message).toContain('vpcId');
    expect(invalid(vpc({ cidr: '10.0.0.1/24' })).message).toContain('host bits');
    expect(invalid(vpc({ mtu: 100 })).message).toContain('mtu');
    expect(invalid(vpc({ dns: ['dns.example'] })).message).toContain('dns[0]');
    expect(invalid(vpc({ gateway: undefined })).message).toContain('egress needs a gateway');
    const gateway = SPECS.vpc.gateway!;
    expect(invalid(vpc({ gateway: { ...gateway, mac: '01:00:00:00:00:01' } })).message).toContain('multicast');
    expect(invalid(vpc({ gateway: { ...gateway, networks: ['10.250.0.0/24'] } })).message).toContain('network');
    expect(invalid(vpc({ gateway: { ...gateway, chassis: [] } })).message).toContain('chassis');
    expect(invalid(vpc({ gateway: { ...gateway, chassis: [{ name: 'a b', priority: 1 }] } })).message).toContain(
      'name',
    );
    expect(invalid(() => providerScope({ ...SPECS.provider, physnet: 'phys net' })).message).toContain('physnet');
    expect(invalid(() => nodePortScope({ ...SPECS.port, nodeId: 'node-1' })).message).toContain('nodeId');
    expect(invalid(() => nodePortScope({ ...SPECS.port, mac: '02:00:00:0A:00:01' })).message).toContain('mac');
    expect(invalid(() => endpointScope({ ...SPECS.endpoint, port: 0 })).message).toContain('port');
    expect(
      invalid(() => endpointScope({ ...SPECS.endpoint, backends: [{ nodeId: IDS.node, ip: '10.0.1.5' }] })).message,
    ).toContain('not a host address');
  });

  it('removes everything that names a VPC, and an endpoint by its cluster', () => {
    const vpc = vpcRemovalScope(IDS.vpc);
    expect(vpc.desired).toEqual([]);
    expect(new Set(vpc.queries.map((q) => q.table)).size).toBe(10);
    expect(vpc.queries.every((q) => q.owner['kaas:vpc-id'] === IDS.vpc && !('kaas:kind' in q.owner))).toBe(true);
    expect(endpointRemovalScope(IDS.cluster).queries.map((q) => q.table)).toEqual([
      'Load_Balancer',
      'Load_Balancer_Health_Check',
    ]);
  });
});
