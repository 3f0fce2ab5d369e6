import {
  type DesiredRow,
  type DesiredValue,
  desiredIdentity,
  HOLDERS,
  type NetworkScope,
  rowIdentity,
} from './ovn-desired-rows.js';
import { OvnNetworkError, OvnNetworkErrorCode } from './ovn-network-error.js';
import { decodeNetworkRow, NETWORK_TABLES, type NetworkTableName, nbNetwork } from './ovn-network-tables.js';
import type { ColumnDescriptor } from './ovsdb-columns.js';
import {
  comment,
  type Condition,
  map,
  namedUuid,
  type OvsdbAtom,
  type OvsdbOperation,
  type OvsdbRow,
  type OvsdbValue,
  type SelectOperation,
  type SelectResult,
  set,
  uuid,
} from './ovsdb-types.js';

/*
 * Observe, then act: a scope is read in one transaction of selects, compared with what it should
 * be, and written in one transaction that first re-checks (with `wait`) everything the plan was
 * based on. If another writer got there in between, the wait fails, nothing is applied, and the
 * caller observes again. That is what keeps two concurrent callers from creating a VPC twice:
 * the second one's "there is no such switch" no longer holds when its transaction runs.
 */

export interface ObservedRow {
  readonly table: NetworkTableName;
  readonly uuid: string;
  /** As the server sent it, for `wait` to compare against. */
  readonly wire: OvsdbRow;
  readonly row: Readonly<Record<string, unknown>>;
  readonly identity: string;
}

type LookupRole = { role: 'scope' } | { role: 'name' } | { role: 'external'; id: string };
type Lookup = LookupRole & { table: NetworkTableName; where: Condition[] };
export type ObservedLookup = Lookup & { rows: ObservedRow[] };

export interface Observation {
  readonly lookups: readonly ObservedLookup[];
}

export interface PlannedChange {
  action: 'insert' | 'update' | 'delete' | 'attach';
  table: NetworkTableName;
  /** The row's name or kind, as it is told apart within its scope. */
  identity: string;
  uuid?: string;
}

export interface ScopePlan {
  /** Empty when the rows already are as they should be: then nothing is written. */
  operations: OvsdbOperation[];
  changes: PlannedChange[];
}

export function ownerCondition(owner: Readonly<Record<string, string>>): Condition {
  return ['external_ids', 'includes', map(owner)];
}

function lookups(scope: NetworkScope): Lookup[] {
  const out: Lookup[] = scope.queries.map((q) => ({ role: 'scope', table: q.table, where: [ownerCondition(q.owner)] }));
  const names = new Set<string>();
  for (const d of scope.desired) {
    const name = d.columns['name'];
    if (typeof name !== 'string' || names.has(`${d.table}/${name}`)) continue;
    names.add(`${d.table}/${name}`);
    out.push({ role: 'name', table: d.table, where: [['name', '==', name]] });
  }
  for (const e of scope.externals) {
    out.push({ role: 'external', id: e.id, table: e.table, where: [ownerCondition(e.owner)] });
  }
  return out;
}

/** The selects that observe a scope, and how to read their results. */
export function observeScope(scope: NetworkScope): {
  operations: SelectOperation[];
  read(results: readonly SelectResult[]): Observation;
} {
  const wanted = lookups(scope);
  return {
    operations: wanted.map((l) => nbNetwork.select(l.table, l.where as Condition<never>[])),
    read: (results) => ({
      lookups: wanted.map((l, i) => ({ ...l, rows: results[i].rows.map((wire) => observedRow(l.table, wire)) })),
    }),
  };
}

export function observedRow(table: NetworkTableName, wire: OvsdbRow): ObservedRow {
  const row = decodeNetworkRow(table, wire) as Record<string, unknown>;
  const externalIds = (row['external_ids'] ?? {}) as Record<string, unknown>;
  return { table, uuid: String(row['_uuid']), wire, row, identity: rowIdentity(table, row['name'], externalIds) };
}

/** Of several rows where one is wanted, every caller keeps the same one. */
function keeperOf(rows: readonly ObservedRow[]): ObservedRow | undefined {
  return [...rows].sort((a, b) => a.uuid.localeCompare(b.uuid))[0];
}

type RowHandle = { uuid: string } | { named: string };
const ref = (h: RowHandle): OvsdbAtom => ('uuid' in h ? uuid(h.uuid) : namedUuid(h.named));

export function planScope(scope: NetworkScope, observation: Observation): ScopePlan {
  const externals = new Map<string, ObservedRow>();
  for (const e of scope.externals) {
    const rows = observation.lookups.find((l) => l.role === 'external' && l.id === e.id)?.rows ?? [];
    const keeper = keeperOf(rows);
    if (!keeper) throw new OvnNetworkError(OvnNetworkErrorCode.DependencyMissing, e.missing);
    externals.set(e.id, keeper);
  }

  const observed = new Map<string, ObservedRow>();
  for (const l of observation.lookups) if (l.role !== 'external') for (const r of l.rows) observed.set(r.uuid, r);
  const byIdentity = new Map<string, ObservedRow[]>();
  for (const r of observed.values()) byIdentity.set(r.identity, [...(byIdentity.get(r.identity) ?? []), r]);

  const handles = new Map<string, RowHandle>();
  const kept = new Map<string, ObservedRow>();
  scope.desired.forEach((d, i) => {
    const id = desiredIdentity(d);
    const keeper = keeperOf(byIdentity.get(id) ?? []);
    if (keeper) kept.set(id, keeper);
    handles.set(id, keeper ? { uuid: keeper.uuid } : { named: `row${i}` });
  });
  const keptUuids = new Set([...kept.values()].map((r) => r.uuid));

  const changes: PlannedChange[] = [];
  const writes: OvsdbOperation[] = [];
  const checks: OvsdbOperation[] = [];

  for (const r of observed.values()) {
    if (keptUuids.has(r.uuid)) continue;
    writes.push(...removalOperations([r]));
    changes.push({ action: 'delete', table: r.table, identity: r.identity, uuid: r.uuid });
  }

  const resolve = (value: DesiredValue): DesiredValue => {
    if (isReference(value)) {
      const target = externals.get(value.ref);
      if (!target) throw new Error(`the scope ${scope.description} refers to ${value.ref}, which it does not look up`);
      return target.uuid;
    }
    return value;
  };

  // Children named in inserted parents' set columns, gathered before the inserts are written.
  const heldByNew = new Map<string, Map<string, OvsdbAtom[]>>();
  for (const d of scope.desired) {
    const child = handles.get(desiredIdentity(d)) as RowHandle;
    for (const link of d.parents) {
      const parentHandle =
        'row' in link.parent ? handles.get(link.parent.row) : externalHandle(externals, link.parent.external);
      if (!parentHandle)
        throw new Error(`${desiredIdentity(d)} names a parent ${JSON.stringify(link.parent)} outside its scope`);
      if ('named' in parentHandle) {
        if ('uuid' in child) writes.push(...letGo(link.table, link.column, child.uuid));
        const columns = heldByNew.get(parentHandle.named) ?? new Map<string, OvsdbAtom[]>();
        columns.set(link.column, [...(columns.get(link.column) ?? []), ref(child)]);
        heldByNew.set(parentHandle.named, columns);
        continue;
      }
      const parentRow = 'row' in link.parent ? kept.get(link.parent.row) : externals.get(link.parent.external);
      const held = parentRow ? (parentRow.row[link.column] as unknown[]) : [];
      if ('uuid' in child && held.includes(child.uuid)) {
        checks.push(
          nbNetwork.wait(
            link.table,
            [
              ['_uuid', '==', uuid(parentHandle.uuid)],
              [link.column as never, 'includes', uuid(child.uuid)],
            ],
            ['_uuid'],
            '==',
            [{ _uuid: uuid(parentHandle.uuid) } as never],
            0,
          ),
        );
        continue;
      }
      if ('uuid' in child) {
        // Held somewhere else (a switch it should not be on): let go of it there in the same
        // transaction, so it is never held by two parents nor dropped in between.
        writes.push(...letGo(link.table, link.column, child.uuid));
      }
      writes.push(
        nbNetwork.mutate(
          link.table,
          [['_uuid', '==', uuid(parentHandle.uuid)]],
          [[link.column as never, 'insert', set([ref(child)])]],
        ),
      );
      changes.push({
        action: 'attach',
        table: d.table,
        identity: desiredIdentity(d),
        uuid: 'uuid' in child ? child.uuid : undefined,
      });
    }
  }

  for (const d of scope.desired) {
    const id = desiredIdentity(d);
    const handle = handles.get(id) as RowHandle;
    if ('named' in handle) {
      const row: Record<string, OvsdbValue> = {};
      for (const [column, value] of Object.entries(d.columns)) row[column] = encode(d.table, column, resolve(value));
      for (const [column, refs] of heldByNew.get(handle.named) ?? []) row[column] = set(refs);
      writes.push(nbNetwork.insert(d.table, row as never, handle.named));
      changes.push({ action: 'insert', table: d.table, identity: id });
      continue;
    }
    const current = kept.get(id) as ObservedRow;
    const update: Record<string, OvsdbValue> = {};
    for (const [column, value] of Object.entries(d.columns)) {
      const want = resolve(value);
      if (!sameValue(descriptor(d.table, column), current.row[column], want))
        update[column] = encode(d.table, column, want);
    }
    if (Object.keys(update).length > 0) {
      writes.push(nbNetwork.update(d.table, [['_uuid', '==', uuid(current.uuid)]], update as never));
      changes.push({ action: 'update', table: d.table, identity: id, uuid: current.uuid });
    }
  }

  if (writes.length === 0) return { operations: [], changes: [] };

  // Everything the plan rests on must still hold when the transaction runs.
  const compared = comparedColumns(scope.desired);
  const unchanged = observation.lookups.map((l) => {
    const columns = l.role === 'external' ? ['_uuid'] : ['_uuid', ...(compared.get(l.table) ?? [])];
    const rows = l.rows.map((r) => project(r.wire, columns));
    return nbNetwork.wait(l.table, l.where as Condition<never>[], columns as never[], '==', rows as never[], 0);
  });
  return { operations: [...unchanged, ...checks, ...writes, comment(`kaas: ${scope.description}`)], changes };
}

/** Takes rows out of the database: root rows are deleted, others let go of by their holders. */
export function removalOperations(rows: readonly { table: NetworkTableName; uuid: string }[]): OvsdbOperation[] {
  const out: OvsdbOperation[] = [];
  for (const r of rows) {
    const holders = HOLDERS[r.table];
    if (!holders) {
      out.push(nbNetwork.delete(r.table, [['_uuid', '==', uuid(r.uuid)]]));
      continue;
    }
    for (const h of holders) out.push(...letGo(h.table, h.column, r.uuid));
  }
  return out;
}

/** Takes a row out of a set column of every row of `table` that holds it. */
function letGo(table: NetworkTableName, column: string, child: string): OvsdbOperation[] {
  return [
    nbNetwork.mutate(
      table,
      [[column as never, 'includes', uuid(child)]],
      [[column as never, 'delete', set([uuid(child)])]],
    ),
  ];
}

function externalHandle(externals: Map<string, ObservedRow>, id: string): RowHandle | undefined {
  const row = externals.get(id);
  return row ? { uuid: row.uuid } : undefined;
}

function isReference(value: DesiredValue): value is { ref: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'ref' in value;
}

function comparedColumns(desired: readonly DesiredRow[]): Map<NetworkTableName, string[]> {
  const out = new Map<NetworkTableName, Set<string>>();
  for (const d of desired) {
    const columns = out.get(d.table) ?? new Set<string>();
    for (const c of Object.keys(d.columns)) columns.add(c);
    out.set(d.table, columns);
  }
  return new Map([...out].map(([t, c]) => [t, [...c].sort()]));
}

function project(row: OvsdbRow, columns: readonly string[]): OvsdbRow {
  const out: OvsdbRow = {};
  for (const c of columns) out[c] = row[c];
  return out;
}

function descriptor(table: NetworkTableName, column: string): ColumnDescriptor {
  const d = (NETWORK_TABLES[table] as Record<string, ColumnDescriptor>)[column];
  if (!d) throw new Error(`${table}.${column} is not a described column`);
  return d;
}

/** The wire form of a desired value (references already resolved to UUID strings). */
export function encode(table: NetworkTableName, column: string, value: DesiredValue): OvsdbValue {
  const d = descriptor(table, column);
  const atom = (v: unknown): OvsdbAtom => (d.key === 'uuid' ? uuid(String(v)) : (v as OvsdbAtom));
  switch (d.shape) {
    case 'scalar':
      return atom(value);
    case 'optional':
      return value === null ? set([]) : atom(value);
    case 'set':
      return set((value as unknown[]).map(atom));
    case 'map':
      return map(value as Record<string, string>);
  }
}

function sameValue(d: ColumnDescriptor, observed: unknown, desired: DesiredValue): boolean {
  switch (d.shape) {
    case 'scalar':
      return observed === desired;
    case 'optional':
      return (observed ?? null) === desired;
    case 'set': {
      const a = (observed as unknown[]).map(String).sort();
      const b = (desired as unknown[]).map(String).sort();
      return a.length === b.length && a.every((v, i) => v === b[i]);
    }
    case 'map': {
      const a = observed as Record<string, unknown>;
      const b = desired as Record<string, unknown>;
      const keys = Object.keys(a);
      return keys.length === Object.keys(b).length && keys.every((k) => k in b && String(a[k]) === String(b[k]));
    }
  }
}
