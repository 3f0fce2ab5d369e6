import { stringify } from 'yaml';
import type { ApiClient } from './api-client.js';
import { EventStream } from './events.js';
import { cells, type Column, type Format, render, shown } from './output.js';

export interface WatchSpec<T> {
  /** The events of this cluster wake the watch (of every cluster of the caller when undefined). */
  clusterId?: string;
  /** The rows as they are now; null when what is watched is gone (the watch ends). */
  fetch: () => Promise<T[] | null>;
  key: (row: T) => string;
  columns: Column<T>[];
  format: Format;
  signal?: AbortSignal;
  out?: (text: string) => void;
}

/**
 * `--watch`: prints the rows, then each row again when it changes (and a line for a row that is
 * gone), woken by the platform's event stream (and every 10 s, or every second without a
 * stream), until `signal` ends it or what is watched is gone. Tables keep the first print's
 * column widths where they can; JSON and YAML print each changed row as a document of its own.
 */
export async function watchRows<T>(client: ApiClient, spec: WatchSpec<T>): Promise<void> {
  const out = spec.out ?? ((text: string) => process.stdout.write(text));
  const cols = shown(spec.columns, spec.format);
  const table = spec.format === 'table' || spec.format === 'wide';
  let widths: number[] = [];
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        widths[i] = Math.max(widths[i] ?? 0, v.length);
        return i === values.length - 1 ? v : v.padEnd(widths[i]);
      })
      .join('   ');
  const show = (row: T) => {
    if (table) out(`${line(cells(row, cols))}\n`);
    else if (spec.format === 'json') out(`${JSON.stringify(row)}\n`);
    else if (spec.format === 'yaml') out(`---\n${stringify(row, { lineWidth: 0 })}`);
    else out(`${render([row], spec.columns, 'name')}\n`);
  };
  const gone = (row: T) => {
    const name = render([row], spec.columns, 'name');
    if (table) out(`${line([name, '(gone)'])}\n`);
    else if (spec.format === 'name') out(`${name}\n`);
    else out(`${JSON.stringify({ gone: name })}\n`);
  };

  // What a change is: what the table shows (but AGE, which changes by itself), or the whole row.
  const compared = (row: T) =>
    table ? JSON.stringify(cells(row, cols).filter((_, i) => cols[i].header !== 'AGE')) : JSON.stringify(row);

  const first = await spec.fetch();
  if (first === null) return;
  const seen = new Map<string, { row: T; text: string }>();
  if (table) {
    const all = [cols.map((c) => c.header), ...first.map((r) => cells(r, cols))];
    widths = cols.map((_, i) => Math.max(...all.map((r) => r[i].length)));
    out(`${line(all[0])}\n`);
  }
  for (const row of first) {
    seen.set(spec.key(row), { row, text: compared(row) });
    show(row);
  }
  const events = await EventStream.open(client, spec.clusterId);
  const ended = new Promise<void>((resolve) => spec.signal?.addEventListener('abort', () => resolve()));
  try {
    while (!spec.signal?.aborted) {
      await Promise.race([events.settle(Number.MAX_SAFE_INTEGER), ended]);
      if (spec.signal?.aborted) return;
      const rows = await spec.fetch();
      const now = new Set<string>();
      for (const row of rows ?? []) {
        const key = spec.key(row);
        now.add(key);
        const text = compared(row);
        if (seen.get(key)?.text === text) continue;
        seen.set(key, { row, text });
        show(row);
      }
      for (const [key, { row }] of seen) {
        if (now.has(key)) continue;
        seen.delete(key);
        gone(row);
      }
      if (rows === null) return;
    }
  } finally {
    events.close();
  }
}
