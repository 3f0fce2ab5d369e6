import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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

/** The 1, 5 and 15 minute load averages, rounded, and the number of CPUs. */
export function machineLoad(): { loadAvg: number[]; cpus: number } {
  return {
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100),
    cpus: readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 0,
  };
}

/** Prints the figures and writes them to bench/results/NAME.json, with the machine's load at the end. */
export function report(name: string, figures: Record<string, unknown>): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const doc = {
    benchmark: name,
    at: new Date().toISOString(),
    machine: machineLoad(),
    ...figures,
  };
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`${name}: ${JSON.stringify(figures)}`);
}
