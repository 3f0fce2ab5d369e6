import { describe, expect, it } from '@jest/globals';
import { assessNode, type NodeHealthInput, planRemediation, type RemediationNode } from './health.js';

const t0 = 1_000_000;
function input(over: Partial<NodeHealthInput>): NodeHealthInput {
  return {
    now: t0,
    vmState: 'running',
    probe: { answered: true, ready: true },
    bootStartedAt: t0 - 100_000,
    readyAt: t0 - 50_000,
    failingSince: null,
    startupTimeoutSeconds: 600,
    unhealthyTimeoutSeconds: 60,
    ...over,
  };
}

describe('assessNode', () => {
  it.each<[string, Partial<NodeHealthInput>, boolean, string]>([
    ['ready and answering', {}, false, 'Ready'],
    ['VM gone', { vmState: 'absent' }, true, 'VmMissing'],
    ['VM stopped', { vmState: 'shutoff' }, true, 'VmShutoff'],
    [
      'still starting within the start-up timeout',
      { readyAt: null, probe: { answered: false, ready: false } },
      false,
      'Starting',
    ],
    [
      'never ready within the start-up timeout',
      { readyAt: null, bootStartedAt: t0 - 601_000, probe: { answered: false, ready: false } },
      true,
      'StartupTimeout',
    ],
    [
      'probe failing for less than the unhealthy timeout',
      { probe: { answered: false, ready: false }, failingSince: t0 - 30_000 },
      false,
      'NotAnswering',
    ],
    [
      'probe failing for longer than the unhealthy timeout',
      { probe: { answered: false, ready: false }, failingSince: t0 - 61_000 },
      true,
      'NotAnswering',
    ],
    [
      'answering but not ready for too long',
      { probe: { answered: true, ready: false }, failingSince: t0 - 61_000 },
      true,
      'NotReady',
    ],
  ])('%s', (_l, over, unhealthy, reason) => {
    const h = assessNode(input(over));
    expect(h.unhealthy).toBe(unhealthy);
    expect(h.reason).toBe(reason);
  });

  it('starts the unhealthy clock at the first failure and stops it on recovery', () => {
    expect(assessNode(input({ probe: { answered: false, ready: false } })).failingSince).toBe(t0);
    expect(assessNode(input({ failingSince: t0 - 5 })).failingSince).toBeNull();
  });
});

function n(
  id: string,
  role: 'master' | 'worker',
  unhealthy = false,
  over: Partial<RemediationNode> = {},
): RemediationNode {
  return { id, role, unhealthy, replaceRequested: false, deleting: false, ...over };
}

describe('planRemediation', () => {
  const base = {
    maxUnhealthy: '40%' as string | number,
    paused: false,
    recentRemediations: 0,
    maxRemediationsPerWindow: 3,
  };

  it('rounds a percentage up, as Cluster API does', () => {
    expect(planRemediation({ ...base, nodes: [n('m', 'master'), n('w1', 'worker', true)] })).toEqual({
      kind: 'replace',
      nodeIds: ['w1'],
    });
  });

  it('replaces an unhealthy worker', () => {
    expect(planRemediation({ ...base, nodes: [n('m', 'master'), n('w1', 'worker', true), n('w2', 'worker')] })).toEqual(
      { kind: 'replace', nodeIds: ['w1'] },
    );
  });

  it('short-circuits when more than maxUnhealthy are unhealthy (3 of 5 with 40%)', () => {
    const nodes = [
      n('m', 'master'),
      n('w1', 'worker', true),
      n('w2', 'worker', true),
      n('w3', 'worker', true),
      n('w4', 'worker'),
    ];
    expect(planRemediation({ ...base, nodes })).toEqual({ kind: 'short-circuit', unhealthy: 3, allowed: 2 });
    expect(planRemediation({ ...base, maxUnhealthy: 3, nodes }).kind).toBe('replace');
  });

  it('does nothing while paused, and backs off after repeated remediations', () => {
    const nodes = [n('m', 'master'), n('w1', 'worker', true), n('w2', 'worker'), n('w3', 'worker')];
    expect(planRemediation({ ...base, paused: true, nodes })).toEqual({ kind: 'none' });
    expect(planRemediation({ ...base, recentRemediations: 3, nodes })).toEqual({ kind: 'backoff', recent: 3 });
  });

  it('replaces a master only when quorum survives', () => {
    const three = [n('m1', 'master', true), n('m2', 'master'), n('m3', 'master'), n('w', 'worker'), n('w2', 'worker')];
    expect(planRemediation({ ...base, nodes: three })).toEqual({ kind: 'replace', nodeIds: ['m1'] });
    const lost = [
      n('m1', 'master', true),
      n('m2', 'master', true),
      n('m3', 'master'),
      n('w', 'worker'),
      n('w2', 'worker'),
      n('w3', 'worker'),
    ];
    expect(planRemediation({ ...base, maxUnhealthy: 5, nodes: lost })).toEqual({ kind: 'none' });
    expect(planRemediation({ ...base, maxUnhealthy: 5, nodes: [n('m1', 'master', true), n('w', 'worker')] })).toEqual({
      kind: 'none',
    });
  });

  it('does not ask twice for a node already being replaced', () => {
    expect(
      planRemediation({
        ...base,
        nodes: [
          n('m', 'master'),
          n('w1', 'worker', true, { replaceRequested: true }),
          n('w2', 'worker'),
          n('w3', 'worker'),
        ],
      }),
    ).toEqual({ kind: 'none' });
  });
});
