import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { HostBackend } from '../../hypervisor/backends/index.js';
import type { HostRuntime } from '../../hypervisor/host-runtime.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import { NodeScope } from './node-scope.js';

function scope(phase: NodeEntity['phase']): NodeScope {
  const node = { id: randomUUID(), clusterId: randomUUID(), tenantId: randomUUID(), name: 'web-worker-1', phase };
  return new NodeScope(node as NodeEntity, null, {} as HostRuntime, {} as HostBackend);
}

describe('NodeScope', () => {
  it('gathers a pass of phase changes into one status patch, with an event for each step', () => {
    const s = scope('Pending');
    s.setPhase('Provisioning', 'Provisioning', 'creating volume, seed and VM');
    s.setPhase('Booting', 'VmStarted', 'VM started');
    expect(s.phase).toBe('Booting');
    expect(s.status.phase).toBe('Booting');
    expect(s.status.conditions).toEqual([
      { type: 'Ready', status: 'False', reason: 'VmStarted', message: 'VM started' },
    ]);
    expect(s.events.map((e) => e.reason)).toEqual(['NodeProvisioning', 'NodeBooting']);
    expect(s.nudgeCluster).toBe(false);
  });

  it('marks readiness, clears the unhealthy mark and asks the cluster to look', () => {
    const s = scope('Joining');
    s.setPhase('Ready', 'Guestready', 'etcd healthy');
    expect(s.status).toMatchObject({ phase: 'Ready', unhealthySince: null });
    expect(s.status.readyAt).toBeInstanceOf(Date);
    expect(s.nudgeCluster).toBe(true);
  });

  it('does nothing for the phase the node is in, and writes no Ready condition or event for Deleting', () => {
    const s = scope('Ready');
    s.setPhase('Ready', 'x', 'y');
    expect(s.status).toEqual({});
    s.setPhase('Deleting', 'Deleting', 'removing the node');
    expect(s.status).toEqual({ phase: 'Deleting' });
    expect(s.events).toEqual([]);
  });

  it('takes a failure as a warning the cluster must see', () => {
    const s = scope('Joining');
    s.setPhase('Failed', 'Guestfailed', 'etcd did not start');
    expect(s.events).toEqual([{ type: 'warning', reason: 'NodeFailed', message: 'web-worker-1: etcd did not start' }]);
    expect(s.nudgeCluster).toBe(true);
  });
});
