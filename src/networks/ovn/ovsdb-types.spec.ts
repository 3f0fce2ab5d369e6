import { describe, expect, it } from '@jest/globals';
import {
  comment,
  decodeAtom,
  decodeMap,
  decodeMapPairs,
  decodeOptional,
  decodeSet,
  deleteRows,
  insert,
  map,
  mutate,
  namedUuid,
  OvsdbDecodeError,
  select,
  set,
  update,
  uuid,
  wait,
} from './ovsdb-types.js';

const U1 = '11111111-1111-4111-8111-111111111111';

describe('OVSDB values', () => {
  it('builds the tagged wire forms of RFC 7047 §5.1', () => {
    expect(uuid(U1)).toEqual(['uuid', U1]);
    expect(namedUuid('row_1')).toEqual(['named-uuid', 'row_1']);
    expect(set(['a', 'b'])).toEqual(['set', ['a', 'b']]);
    expect(set([])).toEqual(['set', []]);
    expect(set(new Set([1, 2]))).toEqual(['set', [1, 2]]);
    expect(set([uuid(U1)])).toEqual(['set', [['uuid', U1]]]);
    expect(map({ a: '1', b: '2' })).toEqual([
      'map',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ]);
    expect(map({})).toEqual(['map', []]);
    expect(
      map([
        [1, 'one'],
        [2, 'two'],
      ]),
    ).toEqual([
      'map',
      [
        [1, 'one'],
        [2, 'two'],
      ],
    ]);
    expect(map(new Map([['k', uuid(U1)]]))).toEqual(['map', [['k', ['uuid', U1]]]]);
  });

  it('lower-cases UUIDs and refuses what is not one', () => {
    expect(uuid(U1.toUpperCase())).toEqual(['uuid', U1]);
    expect(() => uuid('not-a-uuid')).toThrow(/not a UUID: "not-a-uuid"/);
    expect(() => uuid(`${U1}0`)).toThrow(TypeError);
  });

  it.each(['', '1abc', 'has-dash', 'has space', 'ünï'])('refuses the uuid-name %j', (name) => {
    expect(() => namedUuid(name)).toThrow(/not a valid uuid-name/);
    expect(() => insert('T', {}, name)).toThrow(/not a valid uuid-name/);
  });
});

describe('OVSDB operations', () => {
  it('builds each operation of RFC 7047 §5.2 with exactly its members', () => {
    expect(insert('T', { a: 1 })).toEqual({ op: 'insert', table: 'T', row: { a: 1 } });
    expect(insert('T', { a: 1 }, 'row')).toEqual({ op: 'insert', table: 'T', row: { a: 1 }, 'uuid-name': 'row' });
    expect(update('T', [['a', '==', 1]], { b: true })).toEqual({
      op: 'update',
      table: 'T',
      where: [['a', '==', 1]],
      row: { b: true },
    });
    expect(mutate('T', [], [['n', '+=', 1]])).toEqual({
      op: 'mutate',
      table: 'T',
      where: [],
      mutations: [['n', '+=', 1]],
    });
    expect(deleteRows('T', [['_uuid', '==', uuid(U1)]])).toEqual({
      op: 'delete',
      table: 'T',
      where: [['_uuid', '==', ['uuid', U1]]],
    });
    expect(select('T', [])).toEqual({ op: 'select', table: 'T', where: [] });
    expect(select('T', [], ['a'])).toEqual({ op: 'select', table: 'T', where: [], columns: ['a'] });
    expect(wait('T', [], ['a'], '!=', [{ a: 1 }])).toEqual({
      op: 'wait',
      table: 'T',
      where: [],
      columns: ['a'],
      until: '!=',
      rows: [{ a: 1 }],
    });
    expect(wait('T', [], [], '==', [], 500)).toMatchObject({ timeout: 500 });
    expect(comment('why')).toEqual({ op: 'comment', comment: 'why' });
  });

  it('drops columns set to undefined, which JSON would otherwise drop without a trace', () => {
    const row = { name: 'x', description: undefined };
    expect(JSON.stringify(insert('T', row))).toBe('{"op":"insert","table":"T","row":{"name":"x"}}');
    expect(update('T', [], row).row).toEqual({ name: 'x' });
    expect(wait('T', [], ['name'], '==', [row]).rows).toEqual([{ name: 'x' }]);
  });
});

describe('decoding what the server sends', () => {
  it('decodes atoms, UUIDs becoming their string', () => {
    expect(decodeAtom('s')).toBe('s');
    expect(decodeAtom(3)).toBe(3);
    expect(decodeAtom(false)).toBe(false);
    expect(decodeAtom(['uuid', U1])).toBe(U1);
    expect(() => decodeAtom(null)).toThrow(OvsdbDecodeError);
    expect(() => decodeAtom(['set', []])).toThrow(/not an OVSDB atom/);
  });

  it('decodes sets, including the bare atom that stands for a set of one', () => {
    expect(decodeSet(['set', ['a', 'b']])).toEqual(['a', 'b']);
    expect(decodeSet(['set', []])).toEqual([]);
    expect(decodeSet('a')).toEqual(['a']);
    expect(decodeSet(['uuid', U1])).toEqual([U1]);
    expect(decodeSet(['set', [['uuid', U1]]])).toEqual([U1]);
    expect(() => decodeSet(['set', 'a'])).toThrow(/malformed set/);
  });

  it('decodes an optional column: the empty set is undefined', () => {
    expect(decodeOptional(['set', []])).toBeUndefined();
    expect(decodeOptional(5)).toBe(5);
    expect(decodeOptional(['set', [true]])).toBe(true);
    expect(() => decodeOptional(['set', [1, 2]])).toThrow(/at most one value/);
  });

  it('decodes maps, which always come tagged', () => {
    expect(decodeMap(['map', []])).toEqual({});
    expect(
      decodeMap([
        'map',
        [
          ['a', '1'],
          ['b', ['uuid', U1]],
        ],
      ]),
    ).toEqual({ a: '1', b: U1 });
    expect(decodeMap(['map', [[7, 'x']]])).toEqual({ '7': 'x' });
    expect(decodeMapPairs(['map', [[7, 'x']]])).toEqual([[7, 'x']]);
    expect(() => decodeMap(['set', []])).toThrow(/not an OVSDB map/);
    expect(() => decodeMap({ a: '1' })).toThrow(/not an OVSDB map/);
    expect(() => decodeMap(['map', [['a']]])).toThrow(/malformed map pair/);
  });
});
