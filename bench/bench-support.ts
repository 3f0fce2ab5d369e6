import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(import.meta.dirname, '..', '..', 'bench', 'results');

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Prints the figures and writes them to bench/results/NAME.json. */
export function report(name: string, figures: Record<string, unknown>): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const doc = {
    benchmark: name,
    at: new Date().toISOString(),
    machine: { cpus: (globalThis.process?.env.KAAS_BENCH_CPUS ?? '') || undefined },
    ...figures,
  };
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`${name}: ${JSON.stringify(figures)}`);
}
