import { describe, expect, it } from '@jest/globals';
import { auditResource } from './audit-resource.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

describe('auditResource', () => {
  it.each([
    ['/v1/clusters', {}, A, { kind: 'cluster', id: A }],
    ['/v1/clusters/:id', { id: A }, A, { kind: 'cluster', id: A }],
    ['/v1/clusters/:id/pause', { id: A }, A, { kind: 'cluster', id: A }],
    ['/v1/clusters/:id/nodes/:nodeId/replace', { id: A, nodeId: B }, B, { kind: 'node', id: B }],
    ['/v1/hosts/:id/faults', { id: A }, undefined, { kind: 'host', id: A }],
    ['/v1/floating-ip-ranges', {}, A, { kind: 'floating-ip-range', id: A }],
    ['/v1/health/sweeps', {}, undefined, { kind: 'health-sweep' }],
    ['/v1/tenants', {}, A, { kind: 'tenant', id: A }],
    ['/v1/tenants/:id/quota', { id: A }, A, { kind: 'tenant', id: A, tenantId: A }],
    ['/v1/tenants/:id/api-keys', { id: A }, B, { kind: 'api-key', id: B, tenantId: A }],
    ['/v1/tenants/:id/api-keys/:keyId', { id: A, keyId: B }, undefined, { kind: 'api-key', id: B, tenantId: A }],
  ])('%s', (route, params, answerId, expected) => {
    const got = auditResource(route, params, answerId);
    expect(Object.fromEntries(Object.entries(got).filter(([, v]) => v !== undefined))).toEqual(expected);
  });

  it('leaves out ids that are not UUIDs, and unmatched routes', () => {
    expect(auditResource('/v1/vpcs/:id', { id: '../../etc/passwd' }, undefined)).toEqual({
      kind: 'vpc',
      id: undefined,
      tenantId: undefined,
    });
    expect(auditResource('/v1/vpcs', {}, { nested: 'object' })).toEqual({
      kind: 'vpc',
      id: undefined,
      tenantId: undefined,
    });
    expect(auditResource(undefined, {}, A)).toEqual({});
  });
});
