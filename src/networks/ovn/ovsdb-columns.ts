import type { OvsdbAtomicType, OvsdbBaseType, OvsdbColumnType } from './ovsdb-schema.js';
import {
  decodeAtom,
  type DecodedAtom,
  isUuid,
  mapPairs,
  OvsdbDecodeError,
  type OvsdbMap,
  type OvsdbNamedUuid,
  type OvsdbRow,
  type OvsdbSet,
  type OvsdbUuid,
  setElements,
} from './ovsdb-types.js';

/**
 * A typed description of the columns the platform reads and writes in a table. One description
 * gives three things: the TypeScript type of a row as the builders accept it (wire values), the
 * type of a decoded row (plain JavaScript), and the decoder itself, so the three cannot drift.
 * It covers a subset of a table's columns on purpose; the medium test checks each description
 * against the schema that the real server reports.
 */
export type ColumnDescriptor =
  | { readonly shape: 'scalar'; readonly key: OvsdbAtomicType }
  | { readonly shape: 'optional'; readonly key: OvsdbAtomicType }
  | { readonly shape: 'set'; readonly key: OvsdbAtomicType }
  | { readonly shape: 'map'; readonly key: OvsdbAtomicType; readonly value: OvsdbAtomicType };

export type TableColumns = Readonly<Record<string, ColumnDescriptor>>;

export const column = {
  string: { shape: 'scalar', key: 'string' },
  integer: { shape: 'scalar', key: 'integer' },
  real: { shape: 'scalar', key: 'real' },
  boolean: { shape: 'scalar', key: 'boolean' },
  uuid: { shape: 'scalar', key: 'uuid' },
  /** A column of at most one value (min 0, max 1), e.g. Logical_Switch_Port.parent_name. */
  optional: <K extends OvsdbAtomicType>(key: K) => ({ shape: 'optional', key }) as const,
  set: <K extends OvsdbAtomicType>(key: K) => ({ shape: 'set', key }) as const,
  map: <K extends OvsdbAtomicType, V extends OvsdbAtomicType>(key: K, value: V) =>
    ({ shape: 'map', key, value }) as const,
} as const;

/** Adds the columns every OVSDB row has. */
export function defineTable<D extends TableColumns>(columns: D): D & ImplicitColumns {
  return { _uuid: column.uuid, _version: column.uuid, ...columns };
}
export type ImplicitColumns = { readonly _uuid: typeof column.uuid; readonly _version: typeof column.uuid };

type JsAtom<K> = K extends 'string' | 'uuid' ? string : K extends 'integer' | 'real' ? number : boolean;
type WireAtom<K> = K extends 'uuid' ? OvsdbUuid | OvsdbNamedUuid : JsAtom<K>;

export type DecodedColumn<C> = C extends { shape: 'scalar'; key: infer K }
  ? JsAtom<K>
  : C extends { shape: 'optional'; key: infer K }
    ? JsAtom<K> | undefined
    : C extends { shape: 'set'; key: infer K }
      ? JsAtom<K>[]
      : C extends { shape: 'map'; value: infer V }
        ? Record<string, JsAtom<V>>
        : never;

export type WireColumn<C> = C extends { shape: 'scalar'; key: infer K }
  ? WireAtom<K>
  : C extends { shape: 'optional' | 'set'; key: infer K }
    ? WireAtom<K> | OvsdbSet<WireAtom<K>>
    : C extends { shape: 'map'; key: infer K; value: infer V }
      ? OvsdbMap<WireAtom<K>, WireAtom<V>>
      : never;

export type DecodedRow<D extends TableColumns> = { -readonly [K in keyof D]: DecodedColumn<D[K]> };
/** A row as the builders accept it; the implicit columns cannot be written. */
export type WireRow<D extends TableColumns> = { [K in Exclude<keyof D, keyof ImplicitColumns>]: WireColumn<D[K]> };

/**
 * Decodes a row the server sent into plain JavaScript, by the description. Columns the
 * description does not know are left out; a described column missing from the row is an error,
 * unless `only` names the columns that a `select` asked for.
 */
export function decodeRow<D extends TableColumns, C extends keyof D & string = keyof D & string>(
  columns: D,
  row: OvsdbRow,
  only?: readonly C[],
): Pick<DecodedRow<D>, C> {
  const names = only ?? (Object.keys(columns) as C[]);
  const out: Partial<Record<C, unknown>> = {};
  for (const name of names) {
    const descriptor = columns[name];
    if (!descriptor) throw new OvsdbDecodeError(`column ${name} is not described`);
    if (!(name in row)) throw new OvsdbDecodeError(`row has no column ${name}`);
    try {
      out[name] = decodeColumn(descriptor, row[name]);
    } catch (err) {
      throw new OvsdbDecodeError(`column ${name}: ${(err as Error).message}`);
    }
  }
  return out as Pick<DecodedRow<D>, C>;
}

function decodeColumn(descriptor: ColumnDescriptor, value: unknown): unknown {
  switch (descriptor.shape) {
    case 'scalar':
      return checkedAtom(descriptor.key, value);
    case 'optional': {
      const elements = setElements(value);
      if (elements.length > 1) throw new OvsdbDecodeError(`expected at most one value: ${JSON.stringify(value)}`);
      return elements.length === 0 ? undefined : checkedAtom(descriptor.key, elements[0]);
    }
    case 'set':
      return setElements(value).map((e) => checkedAtom(descriptor.key, e));
    case 'map': {
      const out: Record<string, DecodedAtom> = {};
      for (const [k, v] of mapPairs(value))
        out[String(checkedAtom(descriptor.key, k))] = checkedAtom(descriptor.value, v);
      return out;
    }
  }
}

/** Decodes an atom and checks it has the described type, so a wrong description fails loudly. */
function checkedAtom(kind: OvsdbAtomicType, value: unknown): DecodedAtom {
  const atom = decodeAtom(value);
  const ok =
    kind === 'uuid'
      ? isUuid(value)
      : kind === 'string'
        ? typeof value === 'string'
        : kind === 'boolean'
          ? typeof value === 'boolean'
          : kind === 'integer'
            ? Number.isInteger(value)
            : typeof value === 'number';
  if (!ok) throw new OvsdbDecodeError(`expected ${kind}, got ${JSON.stringify(value)}`);
  return atom;
}

/** The descriptor that matches a column type of a schema, for checking descriptions against it. */
export function describeColumnType(type: OvsdbColumnType): ColumnDescriptor {
  if (typeof type === 'string') return { shape: 'scalar', key: type };
  const key = atomicType(type.key);
  if (type.value !== undefined) return { shape: 'map', key, value: atomicType(type.value) };
  const min = type.min ?? 1;
  const max = type.max ?? 1;
  if (min === 1 && max === 1) return { shape: 'scalar', key };
  if (min === 0 && max === 1) return { shape: 'optional', key };
  return { shape: 'set', key };
}

function atomicType(base: OvsdbBaseType): OvsdbAtomicType {
  return typeof base === 'string' ? base : base.type;
}
