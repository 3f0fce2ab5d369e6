import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
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
  it('prints YAML, a single mapping for a single row and a list for rows', () => {
    expect(render({ name: 'a', n: 1 }, cols, 'yaml')).toBe('name: a\nn: 1');
    expect(render([{ name: 'a', n: null }], cols, 'yaml')).toBe('- name: a\n  n: null');
    const long = { name: 'x'.repeat(200), n: 2 };
    expect(parse(render([long, long], cols, 'yaml'))).toEqual([long, long]);
    expect(render([], cols, 'yaml')).toBe('[]');
  });
});
