import { describe, expect, it } from '@jest/globals';
import type { NodeEntity } from './node.entity.js';
import { statusColumns } from './node-status.js';

const at = new Date('2026-12-01T10:00:00Z');

function node(over: Partial<NodeEntity> = {}): NodeEntity {
  return {
    phase: 'Booting',
    conditions: [
      { type: 'Ready', status: 'False', reason: 'VmStarted', message: 'started', lastTransitionTime: at.toISOString() },
      {
        type: 'NodeHealthy',
        status: 'True',
        reason: 'Starting',
        message: 'Starting',
        lastTransitionTime: at.toISOString(),
      },
    ],
    readyAt: null,
    failingSince: null,
    unhealthySince: null,
    lastHeartbeatAt: null,
    bootStartedAt: at,
    usage: null,
    statusVersion: 3,
    ...over,
  } as NodeEntity;
}

describe('statusColumns', () => {
  it('writes only the condition types a patch names, keeping the others as they are', () => {
    const later = new Date('2026-12-01T10:05:00Z');
    const out = statusColumns(
      node(),
      { conditions: [{ type: 'ControlPlaneMember', status: 'False', reason: 'Left', message: 'gone' }] },
      later,
    );
    expect(out.conditions?.map((c) => c.type)).toEqual(['ControlPlaneMember', 'NodeHealthy', 'Ready']);
    expect(out.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('VmStarted');
    expect(out.conditions?.find((c) => c.type === 'ControlPlaneMember')?.lastTransitionTime).toBe(later.toISOString());
    expect(Object.keys(out)).toEqual(['conditions']);
  });

  it('keeps a condition its transition time while its status holds', () => {
    const out = statusColumns(node(), {
      conditions: [{ type: 'NodeHealthy', status: 'True', reason: 'Ready', message: 'Ready' }],
    });
    expect(out.conditions?.find((c) => c.type === 'NodeHealthy')).toMatchObject({
      reason: 'Ready',
      lastTransitionTime: at.toISOString(),
    });
  });

  it('is empty when nothing would change, whatever order the stored keys came back in', () => {
    const stored = node();
    // jsonb hands keys back in its own order.
    stored.conditions = stored.conditions.map((c) => ({
      lastTransitionTime: c.lastTransitionTime,
      message: c.message,
      reason: c.reason,
      status: c.status,
      type: c.type,
    }));
    expect(
      statusColumns(stored, {
        phase: 'Booting',
        bootStartedAt: new Date(at.getTime()),
        unhealthySince: null,
        conditions: [{ type: 'Ready', status: 'False', reason: 'VmStarted', message: 'started' }],
      }),
    ).toEqual({});
  });

  it('writes changed fields and times', () => {
    const ready = new Date('2026-12-01T10:01:00Z');
    expect(statusColumns(node(), { phase: 'Ready', readyAt: ready, failingSince: null })).toEqual({
      phase: 'Ready',
      readyAt: ready,
    });
  });
});
