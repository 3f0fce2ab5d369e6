import { describe, expect, it } from '@jest/globals';
import { queueLabel, splitRequestId, withRequestId } from './job-types.js';

describe('request ids in job data', () => {
  it('rides beside the payload and comes off before the handler sees it', () => {
    const data = withRequestId<'cluster.reconcile'>({ clusterId: 'c1' }, 'req-1');
    expect(data).toEqual({ clusterId: 'c1', requestId: 'req-1' });
    expect(splitRequestId(data)).toEqual({ payload: { clusterId: 'c1' }, requestId: 'req-1' });
  });

  it('leaves a job no request caused as it is', () => {
    const payload = { clusterId: 'c1' };
    expect(withRequestId<'cluster.reconcile'>(payload, undefined)).toBe(payload);
    expect(splitRequestId(payload)).toEqual({ payload, requestId: undefined });
    expect(splitRequestId({})).toEqual({ payload: {}, requestId: undefined });
  });

  it('drops an id no log line may carry', () => {
    for (const bad of ['has space', 'x'.repeat(101), 42, '{"json":1}'])
      expect(splitRequestId({ key: 'k', requestId: bad })).toEqual({ payload: { key: 'k' }, requestId: undefined });
  });
});

describe('queueLabel', () => {
  it("names every host's own queue alike", () => {
    expect(queueLabel('host-6d2f0a64-3f4e-4c4e-9a59-2b1f5f0e4c11')).toBe('host');
    expect(queueLabel('reconcile')).toBe('reconcile');
  });
});
