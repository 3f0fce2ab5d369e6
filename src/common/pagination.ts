import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { DNS_LABEL } from './dns-label.js';
import { DomainError } from './domain-error.js';

export class ListQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1, { message: 'limit must be at least 1' })
  @Max(1000, { message: 'limit must be at most 1000' })
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor from the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

/** A list of named resources: `?name=` answers the page holding that one, or an empty one. */
export class NamedListQuery extends ListQuery {
  @ApiPropertyOptional({ description: 'only the resource of this name: a page of one, or an empty page' })
  @IsOptional()
  @IsString({ message: 'name must be a string' })
  @MaxLength(63, { message: 'name must be a DNS label of at most 63 characters' })
  @Matches(DNS_LABEL, { message: 'name must be a DNS label: lowercase letters, digits and "-"' })
  name?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export function encodeCursor(value: Record<string, string>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Shapes of cursor values, so that a forged cursor is a 400 and never a malformed database value. */
export const CURSOR_SHAPE = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  /** A bigint sequence number, short enough never to overflow. */
  sequence: /^\d{1,18}$/,
};

export function decodeCursor<K extends string>(
  cursor: string | undefined,
  keys: K[],
  shapes: Partial<Record<K, RegExp>> = {},
): Record<K, string> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    const fits = (k: K) => {
      const v = parsed[k];
      // PostgreSQL text cannot hold NUL; anything else compares as a string.
      return typeof v === 'string' && v.length <= 255 && !v.includes('\u0000') && (shapes[k]?.test(v) ?? true);
    };
    if (parsed && typeof parsed === 'object' && keys.every(fits)) return parsed as Record<K, string>;
  } catch {
    // fall through to the error below
  }
  throw DomainError.validation('cursor', 'is not a cursor this list returned');
}

/** Builds a page from rows fetched with limit + 1. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (r: R) => T,
  cursorOf: (r: R) => Record<string, string>,
): Page<T> {
  const more = rows.length > limit;
  const items = (more ? rows.slice(0, limit) : rows).map(map);
  return more ? { items, nextCursor: encodeCursor(cursorOf(rows[limit - 1])) } : { items };
}
