import { describe, expect, it } from '@jest/globals';
import { ClusterAnswers } from './cluster-answers.js';
import type { ClusterStamp } from './clusters.repository.js';

const stamp = (over: Partial<ClusterStamp> = {}): ClusterStamp => ({
  id: 'c1',
  name: 'web',
  controlPlane: 'etcd',
  version: '1001',
  floatingIpAddress: '10.250.0.5',
  nodes: '[{"id":"n1","phase":"Ready"}]',
  ...over,
});

describe('ClusterAnswers', () => {
  it('hands an answer out only for the stamp and endpoint it was made for', () => {
    const answers = new ClusterAnswers();
    answers.keep(stamp(), 'https:2379', '{"id":"c1"}');
    expect(answers.find(stamp(), 'https:2379')).toBe('{"id":"c1"}');
    for (const other of [
      stamp({ version: '1002' }),
      stamp({ floatingIpAddress: null }),
      stamp({ floatingIpAddress: '10.250.0.6' }),
      stamp({ nodes: '[{"id":"n1","phase":"NotReady"}]' }),
      stamp({ id: 'c2' }),
    ])
      expect(answers.find(other, 'https:2379')).toBeUndefined();
    expect(answers.find(stamp(), 'https:6443')).toBeUndefined();
  });

  it('replaces the answer of a cluster made again', () => {
    const answers = new ClusterAnswers();
    answers.keep(stamp(), 'https:2379', 'old');
    answers.keep(stamp({ version: '1002' }), 'https:2379', 'new');
    expect(answers.find(stamp({ version: '1002' }), 'https:2379')).toBe('new');
    expect(answers.find(stamp(), 'https:2379')).toBeUndefined();
    expect(answers.size).toBe(1);
  });

  it('keeps at most its capacity, dropping the least recently used', () => {
    const answers = new ClusterAnswers(2);
    answers.keep(stamp({ id: 'a' }), 'e', 'A');
    answers.keep(stamp({ id: 'b' }), 'e', 'B');
    expect(answers.find(stamp({ id: 'a' }), 'e')).toBe('A'); // a is now the most recent
    answers.keep(stamp({ id: 'c' }), 'e', 'C');
    expect(answers.size).toBe(2);
    expect(answers.find(stamp({ id: 'b' }), 'e')).toBeUndefined();
    expect(answers.find(stamp({ id: 'a' }), 'e')).toBe('A');
    expect(answers.find(stamp({ id: 'c' }), 'e')).toBe('C');
  });
});
