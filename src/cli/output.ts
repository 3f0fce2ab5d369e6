import { stringify } from 'yaml';

export type Format = 'table' | 'wide' | 'json' | 'yaml' | 'name';
export const FORMATS: Format[] = ['table', 'wide', 'json', 'yaml', 'name'];

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Shown by `-o wide` only (ids, addresses, details a glance does not need). */
  wide?: boolean;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The time since `iso` the way kubectl shows it: `42s`, `5m`, `3h`, `12d`. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** The AGE column of anything with a creation time. */
export const ageColumn = <T extends { createdAt?: string | null }>(): Column<T> => ({
  header: 'AGE',
  value: (r) => age(r.createdAt),
});

/** The ID column, shown by `-o wide` (names come first; `-o name` prints them). */
export const idColumn = <T extends { id: string }>(): Column<T> => ({ header: 'ID', value: (r) => r.id, wide: true });

/** Aligned rows under their headers, the last column unpadded. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i]))).join('   ')).join('\n');
}

/** The cells of one row, as `table` and `wide` show it. */
export function cells<T>(row: T, columns: Column<T>[]): string[] {
  return columns.map((c) => cell(c.value(row)));
}

/** The columns a table format shows. */
export function shown<T>(columns: Column<T>[], format: Format): Column<T>[] {
  return format === 'wide' ? columns : columns.filter((c) => !c.wide);
}

/**
 * Renders rows as an aligned table (the default; `wide` adds the wide columns), JSON, YAML, or
 * one name per line (the first column: the name, or the id of what has none).
 */
export function render<T>(rows: T[] | T, columns: Column<T>[], format: Format, single = !Array.isArray(rows)): string {
  const list = Array.isArray(rows) ? rows : [rows];
  if (format === 'json') return JSON.stringify(single ? list[0] : list, null, 2);
  if (format === 'yaml') return stringify(single ? list[0] : list, { lineWidth: 0 }).trimEnd();
  if (format === 'name') return list.map((r) => cell(columns[0].value(r))).join('\n');
  const cols = shown(columns, format);
  return table([cols.map((c) => c.header), ...list.map((r) => cells(r, cols))]);
}
