/** A database schema as `get_schema` returns it (RFC 7047 §3.2). */

export type OvsdbAtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

export interface OvsdbBaseTypeDetail {
  type: OvsdbAtomicType;
  enum?: unknown;
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}
export type OvsdbBaseType = OvsdbAtomicType | OvsdbBaseTypeDetail;

export interface OvsdbColumnTypeDetail {
  key: OvsdbBaseType;
  value?: OvsdbBaseType;
  min?: number;
  max?: number | 'unlimited';
}
export type OvsdbColumnType = OvsdbAtomicType | OvsdbColumnTypeDetail;

export interface OvsdbColumnSchema {
  type: OvsdbColumnType;
  ephemeral?: boolean;
  mutable?: boolean;
}

export interface OvsdbTableSchema {
  columns: Record<string, OvsdbColumnSchema>;
  maxRows?: number;
  isRoot?: boolean;
  indexes?: string[][];
}

export interface OvsdbDatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, OvsdbTableSchema>;
}

export function isDatabaseSchema(value: unknown): value is OvsdbDatabaseSchema {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['name'] === 'string' && typeof v['tables'] === 'object' && v['tables'] !== null;
}
