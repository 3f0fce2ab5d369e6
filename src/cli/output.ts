import { stringify } from 'yaml';

export type Format = 'table' | 'json' | 'yaml' | 'name';

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Renders rows as an aligned table (the default), JSON, YAML, or bare names/ids. */
export function render<T>(rows: T[] | T, columns: Column<T>[], format: Format, single = !Array.isArray(rows)): string {
  const list = Array.isArray(rows) ? rows : [rows];
  if (format === 'json') return JSON.stringify(single ? list[0] : list, null, 2);
  if (format === 'yaml') return stringify(single ? list[0] : list, { lineWidth: 0 }).trimEnd();
  if (format === 'name') return list.map((r) => cell(columns[0].value(r))).join('\n');
  const table = [columns.map((c) => c.header), ...list.map((r) => columns.map((c) => cell(c.value(r))))];
  const widths = columns.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i]))).join('   ')).join('\n');
}
