/**
 * OVSDB values and operations as they travel on the wire (RFC 7047 §5.1 and §5.2), with builders
 * that produce exactly that JSON and decoders that turn what the server sends back into plain
 * JavaScript. The wire forms are kept as types of their own so that a row built for an insert
 * can be checked by the compiler before the server has to refuse it.
 */

export type OvsdbUuid = ['uuid', string];
export type OvsdbNamedUuid = ['named-uuid', string];
/** An atom: what a scalar column or one element of a set or map holds. */
export type OvsdbAtom = string | number | boolean | OvsdbUuid | OvsdbNamedUuid;
export type OvsdbSet<A extends OvsdbAtom = OvsdbAtom> = ['set', A[]];
export type OvsdbMap<K extends OvsdbAtom = OvsdbAtom, V extends OvsdbAtom = OvsdbAtom> = ['map', [K, V][]];
export type OvsdbValue = OvsdbAtom | OvsdbSet | OvsdbMap;
/** A row as sent or received: column name to wire value. */
export type OvsdbRow = Record<string, OvsdbValue>;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// ovsdb-server refuses any other uuid-name, and only says so once the whole transaction is sent.
const UUID_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function uuid(value: string): OvsdbUuid {
  if (!UUID_PATTERN.test(value)) throw new TypeError(`not a UUID: ${JSON.stringify(value)}`);
  return ['uuid', value.toLowerCase()];
}

/** A reference to the row that an insert of the same transaction names with `uuidName`. */
export function namedUuid(name: string): OvsdbNamedUuid {
  assertUuidName(name);
  return ['named-uuid', name];
}

export function set<A extends OvsdbAtom>(elements: Iterable<A>): OvsdbSet<A> {
  return ['set', [...elements]];
}

/** A map from a record (string keys) or from key/value pairs (any atom as key). */
export function map<V extends OvsdbAtom>(entries: Readonly<Record<string, V>>): OvsdbMap<string, V>;
export function map<K extends OvsdbAtom, V extends OvsdbAtom>(entries: Iterable<readonly [K, V]>): OvsdbMap<K, V>;
export function map(
  entries: Readonly<Record<string, OvsdbAtom>> | Iterable<readonly [OvsdbAtom, OvsdbAtom]>,
): OvsdbMap {
  const pairs = isIterable(entries) ? [...entries] : Object.entries(entries);
  return ['map', pairs.map(([k, v]) => [k, v])];
}

function isIterable(value: object): value is Iterable<readonly [OvsdbAtom, OvsdbAtom]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

function assertUuidName(name: string): void {
  if (!UUID_NAME_PATTERN.test(name)) {
    throw new TypeError(`not a valid uuid-name (letters, digits and '_', not starting with a digit): ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Operations (RFC 7047 §5.2). Each carries, as a phantom type, the result it yields, so that
// `transact` can return a tuple of precisely typed results.

export type ConditionFunction = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
export type Condition<C extends string = string> = [C | '_uuid' | '_version', ConditionFunction, OvsdbValue];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation<C extends string = string> = [C, Mutator, OvsdbValue];

declare const resultType: unique symbol;
interface Yields<R> {
  /** Compile-time only: the result this operation yields. Never present at run time. */
  readonly [resultType]?: R;
}

export interface InsertResult {
  uuid: OvsdbUuid;
}
export interface SelectResult<R extends OvsdbRow = OvsdbRow> {
  rows: R[];
}
export interface CountResult {
  count: number;
}
export type EmptyResult = Record<string, never>;

export interface InsertOperation extends Yields<InsertResult> {
  op: 'insert';
  table: string;
  row: OvsdbRow;
  'uuid-name'?: string;
}
export interface SelectOperation<R extends OvsdbRow = OvsdbRow> extends Yields<SelectResult<R>> {
  op: 'select';
  table: string;
  where: Condition[];
  columns?: string[];
}
export interface UpdateOperation extends Yields<CountResult> {
  op: 'update';
  table: string;
  where: Condition[];
  row: OvsdbRow;
}
export interface MutateOperation extends Yields<CountResult> {
  op: 'mutate';
  table: string;
  where: Condition[];
  mutations: Mutation[];
}
export interface DeleteOperation extends Yields<CountResult> {
  op: 'delete';
  table: string;
  where: Condition[];
}
export interface WaitOperation extends Yields<EmptyResult> {
  op: 'wait';
  table: string;
  where: Condition[];
  columns: string[];
  until: '==' | '!=';
  rows: OvsdbRow[];
  timeout?: number;
}
export interface CommentOperation extends Yields<EmptyResult> {
  op: 'comment';
  comment: string;
}

export type OvsdbOperation =
  | InsertOperation
  | SelectOperation
  | UpdateOperation
  | MutateOperation
  | DeleteOperation
  | WaitOperation
  | CommentOperation;

/** The result type of one operation; `transact` maps a tuple of operations through it. */
export type ResultOf<O> = O extends Yields<infer R> ? R : never;
export type ResultsOf<Ops extends readonly OvsdbOperation[]> = { -readonly [K in keyof Ops]: ResultOf<Ops[K]> };

/**
 * A table's columns as the builders accept them. `OvsdbSchemaRows` (table name to row type)
 * lets a database's tables be typed, see `ovn-nb-tables.ts`; the default accepts any table and
 * any column, which is what the plain exported builders use.
 */
export type OvsdbSchemaRows = Record<string, OvsdbRow>;
/** A column that may be read: the row's own, or one of those every row has. */
export type ColumnName<R> = (keyof R & string) | '_uuid' | '_version';

export interface OvsdbOperations<S extends OvsdbSchemaRows> {
  insert<T extends keyof S & string>(table: T, row: Partial<S[T]>, uuidName?: string): InsertOperation;
  update<T extends keyof S & string>(
    table: T,
    where: Condition<keyof S[T] & string>[],
    row: Partial<S[T]>,
  ): UpdateOperation;
  mutate<T extends keyof S & string>(
    table: T,
    where: Condition<keyof S[T] & string>[],
    mutations: Mutation<keyof S[T] & string>[],
  ): MutateOperation;
  delete<T extends keyof S & string>(table: T, where: Condition<keyof S[T] & string>[]): DeleteOperation;
  select<T extends keyof S & string>(
    table: T,
    where: Condition<keyof S[T] & string>[],
    columns?: ColumnName<S[T]>[],
  ): SelectOperation;
  wait<T extends keyof S & string>(
    table: T,
    where: Condition<keyof S[T] & string>[],
    columns: ColumnName<S[T]>[],
    until: '==' | '!=',
    rows: Partial<S[T]>[],
    timeoutMs?: number,
  ): WaitOperation;
  comment(text: string): CommentOperation;
}

/**
 * The operation builders, typed by a schema's row types. One implementation serves every
 * schema; only the compile-time checking differs.
 */
export function ovsdbOperations<S extends OvsdbSchemaRows = OvsdbSchemaRows>(): OvsdbOperations<S> {
  return OPERATIONS as unknown as OvsdbOperations<S>;
}

const OPERATIONS: OvsdbOperations<OvsdbSchemaRows> = {
  insert(table, row, uuidName) {
    if (uuidName === undefined) return { op: 'insert', table, row: definedColumns(row) };
    assertUuidName(uuidName);
    return { op: 'insert', table, row: definedColumns(row), 'uuid-name': uuidName };
  },
  update: (table, where, row) => ({ op: 'update', table, where, row: definedColumns(row) }),
  mutate: (table, where, mutations) => ({ op: 'mutate', table, where, mutations }),
  delete: (table, where) => ({ op: 'delete', table, where }),
  select: (table, where, columns) =>
    columns ? { op: 'select', table, where, columns } : { op: 'select', table, where },
  wait(table, where, columns, until, rows, timeoutMs) {
    const op: WaitOperation = { op: 'wait', table, where, columns, until, rows: rows.map(definedColumns) };
    if (timeoutMs !== undefined) op.timeout = timeoutMs;
    return op;
  },
  comment: (text) => ({ op: 'comment', comment: text }),
};

/** `Partial` rows may carry `undefined`, which JSON would drop silently; drop it visibly here. */
function definedColumns(row: Partial<OvsdbRow>): OvsdbRow {
  const out: OvsdbRow = {};
  for (const [column, value] of Object.entries(row)) if (value !== undefined) out[column] = value;
  return out;
}

const untyped = ovsdbOperations();
export const insert = untyped.insert;
export const update = untyped.update;
export const mutate = untyped.mutate;
export const select = untyped.select;
export const wait = untyped.wait;
export const comment = untyped.comment;
// `delete` is a reserved word, so it cannot be a bare export binding.
export const deleteRows = untyped.delete;

// ---------------------------------------------------------------------------------------------
// Decoding what the server sends back. The wire form is ambiguous without the schema: a set of
// exactly one element is sent as the bare atom, so the caller says which shape it expects.

/** The JavaScript form of an atom: uuids become their string, other atoms stay as they are. */
export type DecodedAtom = string | number | boolean;

export class OvsdbDecodeError extends TypeError {
  override readonly name = 'OvsdbDecodeError';
}

function isTagged(value: unknown, tag: string): value is [string, unknown] {
  return Array.isArray(value) && value.length === 2 && value[0] === tag;
}

export function isUuid(value: unknown): value is OvsdbUuid {
  return isTagged(value, 'uuid') && typeof value[1] === 'string';
}

export function decodeAtom(value: unknown): DecodedAtom {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (isUuid(value)) return value[1];
  throw new OvsdbDecodeError(`not an OVSDB atom: ${JSON.stringify(value)}`);
}

/** The wire elements of a set column: `["set", [...]]`, or a bare atom for a set of one. */
export function setElements(value: unknown): unknown[] {
  if (isTagged(value, 'set')) {
    if (!Array.isArray(value[1])) throw new OvsdbDecodeError(`malformed set: ${JSON.stringify(value)}`);
    return value[1];
  }
  return [value];
}

/** The wire key/value pairs of a map column (maps are always tagged, even when empty). */
export function mapPairs(value: unknown): [unknown, unknown][] {
  if (!isTagged(value, 'map') || !Array.isArray(value[1])) {
    throw new OvsdbDecodeError(`not an OVSDB map: ${JSON.stringify(value)}`);
  }
  return value[1].map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new OvsdbDecodeError(`malformed map pair: ${JSON.stringify(pair)}`);
    }
    return [pair[0], pair[1]];
  });
}

export function decodeSet(value: unknown): DecodedAtom[] {
  return setElements(value).map(decodeAtom);
}

/** A column of at most one value (min 0, max 1): the atom, or undefined for the empty set. */
export function decodeOptional(value: unknown): DecodedAtom | undefined {
  const elements = decodeSet(value);
  if (elements.length > 1) throw new OvsdbDecodeError(`expected at most one value: ${JSON.stringify(value)}`);
  return elements[0];
}

/** A map column. Keys become strings, as object keys do; `decodeMapPairs` keeps them typed. */
export function decodeMap(value: unknown): Record<string, DecodedAtom> {
  const out: Record<string, DecodedAtom> = {};
  for (const [k, v] of decodeMapPairs(value)) out[String(k)] = v;
  return out;
}

export function decodeMapPairs(value: unknown): [DecodedAtom, DecodedAtom][] {
  return mapPairs(value).map(([k, v]) => [decodeAtom(k), decodeAtom(v)]);
}
