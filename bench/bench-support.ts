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

export interface RouteSummary {
  requests: number;
  /** Answers by HTTP status, and `network` for requests that got none. */
  byStatus: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Requests by route (method and route template): how many, their statuses and their latencies. */
export class RouteStats {
  private readonly routes = new Map<string, { byStatus: Record<string, number>; latencies: number[] }>();

  add(route: string, status: number | 'network', ms: number): void {
    let r = this.routes.get(route);
    if (!r) this.routes.set(route, (r = { byStatus: {}, latencies: [] }));
    r.byStatus[status] = (r.byStatus[status] ?? 0) + 1;
    r.latencies.push(ms);
  }

  get requests(): number {
    let n = 0;
    for (const r of this.routes.values()) n += r.latencies.length;
    return n;
  }

  summary(): Record<string, RouteSummary> {
    const round = (x: number) => Math.round(x * 10) / 10;
    return Object.fromEntries(
      [...this.routes.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([route, r]) => [
          route,
          {
            requests: r.latencies.length,
            byStatus: r.byStatus,
            p50Ms: round(percentile(r.latencies, 50)),
            p99Ms: round(percentile(r.latencies, 99)),
            maxMs: round(r.latencies.reduce((a, b) => Math.max(a, b), 0)),
          },
        ]),
    );
  }
}
