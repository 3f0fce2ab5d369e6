import { desiredIdentity, type DesiredValue, type NetworkScope } from '../ovn-desired-rows.js';
import { NETWORK_TABLES, type NetworkTableName } from '../ovn-network-tables.js';
import { encode, type Observation, observeScope } from '../ovn-scope-plan.js';
import type { ColumnDescriptor } from '../ovsdb-columns.js';
import {
  decodeMap,
  map,
  set,
  uuid,
  type OvsdbRow,
  type OvsdbValue,
  type SelectOperation,
  type SelectResult,
} from '../ovsdb-types.js';

/** A full row as ovsdb-server sends it: every described column, empty unless given. */
export function wireRow(table: NetworkTableName, uuid: string, columns: Record<string, OvsdbValue>): OvsdbRow {
  const out: OvsdbRow = { _uuid: ['uuid', uuid], _version: ['uuid', '00000000-0000-4000-8000-0000000000ff'] };
  for (const [name, d] of Object.entries(NETWORK_TABLES[table] as Record<string, ColumnDescriptor>)) {
    if (name === '_uuid' || name === '_version') continue;
    out[name] = columns[name] ?? emptyValue(d);
  }
  return out;
}

function emptyValue(d: ColumnDescriptor): OvsdbValue {
  if (d.shape === 'map') return ['map', []];
  if (d.shape !== 'scalar') return ['set', []];
  return d.key === 'string' ? '' : d.key === 'boolean' ? false : 0;
}

/**
 * What the selects of `scope` would find in a database holding exactly `rows`: a stand-in for
 * the server that understands the two conditions the model uses (`name ==`, `external_ids
 * includes`).
 */
export function observe(
  scope: NetworkScope,
  rows: readonly { table: NetworkTableName; wire: OvsdbRow }[],
): Observation {
  const o = observeScope(scope);
  return o.read(o.operations.map((op) => selectRows(rows, op)));
}

/** What one select finds among `rows` (see `observe` for the conditions understood). */
export function selectRows(rows: readonly { table: string; wire: OvsdbRow }[], op: SelectOperation): SelectResult {
  return {
    rows: rows.filter((r) => r.table === op.table && op.where.every((c) => matches(r.wire, c))).map((r) => r.wire),
  };
}

function matches(row: OvsdbRow, [column, fn, value]: [string, string, OvsdbValue]): boolean {
  if (fn === '==') return JSON.stringify(row[column]) === JSON.stringify(value);
  if (fn === 'includes' && column === 'external_ids') {
    const have = decodeMap(row[column]);
    return Object.entries(decodeMap(value)).every(([k, v]) => have[k] === v);
  }
  throw new Error(`the stand-in does not evaluate ${column} ${fn}`);
}

/**
 * The rows of a scope as they are once it has been ensured, with UUIDs from `uuidOf`, and its
 * external rows holding what they should. Feeding them to `observe` must plan nothing.
 */
export function convergedRows(
  scope: NetworkScope,
  externals: Record<string, { table: NetworkTableName; uuid: string; columns?: Record<string, OvsdbValue> }>,
  uuidOf: (index: number) => string,
): { table: NetworkTableName; wire: OvsdbRow }[] {
  const uuids = new Map(scope.desired.map((d, i) => [desiredIdentity(d), uuidOf(i)]));
  const held = new Map<string, Map<string, string[]>>();
  const hold = (parent: string, column: string, child: string) => {
    const columns = held.get(parent) ?? new Map<string, string[]>();
    columns.set(column, [...(columns.get(column) ?? []), child]);
    held.set(parent, columns);
  };
  for (const d of scope.desired) {
    const child = uuids.get(desiredIdentity(d)) as string;
    for (const link of d.parents) {
      const parent = 'row' in link.parent ? uuids.get(link.parent.row) : externals[link.parent.external]?.uuid;
      if (parent) hold(parent, link.column, child);
    }
  }
  const withHeld = (parent: string, columns: Record<string, OvsdbValue>) => {
    for (const [column, children] of held.get(parent) ?? []) columns[column] = set(children.map((c) => uuid(c)));
    return columns;
  };
  const resolve = (v: DesiredValue): DesiredValue =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && 'ref' in v
      ? (externals[v.ref as string]?.uuid ?? null)
      : v;

  const out = scope.desired.map((d) => {
    const uuid = uuids.get(desiredIdentity(d)) as string;
    const columns: Record<string, OvsdbValue> = {};
    for (const [c, v] of Object.entries(d.columns)) columns[c] = encode(d.table, c, resolve(v));
    return { table: d.table, wire: wireRow(d.table, uuid, withHeld(uuid, columns)) };
  });
  for (const [id, e] of Object.entries(externals)) {
    const owner = scope.externals.find((x) => x.id === id)?.owner ?? {};
    const columns: Record<string, OvsdbValue> = { external_ids: map(owner), ...e.columns };
    out.push({ table: e.table, wire: wireRow(e.table, e.uuid, withHeld(e.uuid, columns)) });
  }
  return out;
}
