import { describe, expect, it } from '@jest/globals';
import { decodeNbRow, nb, NB_TABLES } from './ovn-nb-tables.js';
import { column, decodeRow, defineTable, describeColumnType } from './ovsdb-columns.js';
import { map, namedUuid, OvsdbDecodeError, set, uuid } from './ovsdb-types.js';

const LS = '11111111-1111-4111-8111-111111111111';
const P1 = '22222222-2222-4222-8222-222222222222';
const P2 = '33333333-3333-4333-8333-333333333333';
const V = '44444444-4444-4444-8444-444444444444';

/** A Logical_Switch_Port row as ovsdb-server 3.1 sends it in a select without columns. */
const portRow = {
  _uuid: ['uuid', P1],
  _version: ['uuid', V],
  name: 'port-1',
  type: '',
  addresses: '02:00:00:0a:00:01 10.0.0.11',
  port_security: ['set', []],
  dynamic_addresses: ['set', []],
  dhcpv4_options: ['uuid', LS],
  enabled: ['set', []],
  up: false,
  tag_request: 7,
  parent_name: ['set', []],
  options: ['map', [['requested-chassis', 'h1']]],
  external_ids: ['map', [['kaas:node-id', P1]]],
  // a column the description leaves out
  ha_chassis_group: ['set', []],
};

describe('typed rows', () => {
  it('decodes a Northbound row by its description', () => {
    const port = decodeNbRow('Logical_Switch_Port', portRow as never);
    expect(port).toEqual({
      _uuid: P1,
      _version: V,
      name: 'port-1',
      type: '',
      addresses: ['02:00:00:0a:00:01 10.0.0.11'],
      port_security: [],
      dynamic_addresses: undefined,
      dhcpv4_options: LS,
      enabled: undefined,
      up: false,
      tag_request: 7,
      parent_name: undefined,
      options: { 'requested-chassis': 'h1' },
      external_ids: { 'kaas:node-id': P1 },
    });
    expect(port).not.toHaveProperty('ha_chassis_group');
  });

  it('decodes only the columns a select asked for', () => {
    const row = {
      _uuid: ['uuid', LS],
      ports: [
        'set',
        [
          ['uuid', P1],
          ['uuid', P2],
        ],
      ],
    };
    expect(decodeNbRow('Logical_Switch', row as never, ['_uuid', 'ports'])).toEqual({ _uuid: LS, ports: [P1, P2] });
    expect(() => decodeNbRow('Logical_Switch', row as never)).toThrow(/row has no column _version/);
  });

  it('fails loudly when a value does not have the described type', () => {
    const table = defineTable({ n: column.integer, u: column.optional('uuid'), m: column.map('string', 'integer') });
    const good = { _uuid: ['uuid', LS], _version: ['uuid', V], n: 1, u: ['set', []], m: ['map', [['a', 1]]] };
    expect(decodeRow(table, good as never)).toEqual({ _uuid: LS, _version: V, n: 1, u: undefined, m: { a: 1 } });
    expect(() => decodeRow(table, { ...good, n: 1.5 } as never)).toThrow(/column n: expected integer, got 1.5/);
    expect(() => decodeRow(table, { ...good, u: 'x' } as never)).toThrow(/column u: expected uuid/);
    expect(() => decodeRow(table, { ...good, m: ['map', [['a', 'b']]] } as never)).toThrow(
      /column m: expected integer/,
    );
    expect(() =>
      decodeRow(table, {
        ...good,
        u: [
          'set',
          [
            ['uuid', LS],
            ['uuid', P1],
          ],
        ],
      } as never),
    ).toThrow(OvsdbDecodeError);
    expect(() => decodeRow(table, good as never, ['nope' as never])).toThrow(/column nope is not described/);
  });

  it('describes schema column types the way the descriptions do', () => {
    expect(describeColumnType('string')).toEqual(column.string);
    expect(describeColumnType({ key: 'integer' })).toEqual(column.integer);
    expect(describeColumnType({ key: { type: 'string', enum: ['set', ['a']] } })).toEqual(column.string);
    expect(describeColumnType({ key: 'string', min: 0, max: 1 })).toEqual(column.optional('string'));
    expect(describeColumnType({ key: { type: 'uuid', refTable: 'X' }, min: 0, max: 'unlimited' })).toEqual(
      column.set('uuid'),
    );
    expect(describeColumnType({ key: 'string', min: 1, max: 'unlimited' })).toEqual(column.set('string'));
    expect(describeColumnType({ key: 'string', value: 'string', min: 0, max: 'unlimited' })).toEqual(
      column.map('string', 'string'),
    );
  });

  it('gives every described table the implicit columns', () => {
    for (const [table, columns] of Object.entries(NB_TABLES)) {
      expect({ table, _uuid: columns._uuid, _version: columns._version }).toEqual({
        table,
        _uuid: column.uuid,
        _version: column.uuid,
      });
    }
  });

  it('typed builders produce the same operations as the plain ones', () => {
    const op = nb.insert(
      'Logical_Switch',
      { name: 'ls', ports: set([namedUuid('p'), uuid(P1)]), external_ids: map({ a: 'b' }) },
      'ls',
    );
    expect(op).toEqual({
      op: 'insert',
      table: 'Logical_Switch',
      row: {
        name: 'ls',
        ports: [
          'set',
          [
            ['named-uuid', 'p'],
            ['uuid', P1],
          ],
        ],
        external_ids: ['map', [['a', 'b']]],
      },
      'uuid-name': 'ls',
    });
    // @ts-expect-error: not a Logical_Switch column, caught by the compiler
    nb.select('Logical_Switch', [['nosuch', '==', 1]]);
    // @ts-expect-error: ports holds references, not strings
    nb.insert('Logical_Switch', { ports: set(['p1']) });
    // @ts-expect-error: no such table
    nb.delete('Logical_Swich', []);
  });
});
