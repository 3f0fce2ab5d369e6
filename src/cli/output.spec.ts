import { describe, expect, it } from '@jest/globals';
import { render } from './output.js';

const cols = [
  { header: 'NAME', value: (r: { name: string; n: number | null }) => r.name },
  { header: 'N', value: (r: { name: string; n: number | null }) => r.n },
];

describe('render', () => {
  it('aligns a table with headers', () => {
    expect(
      render(
        [
          { name: 'a', n: 1 },
          { name: 'longer', n: null },
        ],
        cols,
        'table',
      ),
    ).toBe('NAME     N\na        1\nlonger   -');
  });
  it('prints JSON, a single object for a single row', () => {
    expect(JSON.parse(render({ name: 'a', n: 1 }, cols, 'json'))).toEqual({ name: 'a', n: 1 });
    expect(JSON.parse(render([{ name: 'a', n: 1 }], cols, 'json'))).toEqual([{ name: 'a', n: 1 }]);
  });
  it('prints bare names', () => {
    expect(
      render(
        [
          { name: 'a', n: 1 },
          { name: 'b', n: 2 },
        ],
        cols,
        'name',
      ),
    ).toBe('a\nb');
  });
});
